import { FieldMessages, inputProps, type ErrorMap } from './Field';
import { fieldId } from './fieldErrors';
import { parseList, uid, type GridRow } from './form';

export interface GridEditorProps {
  rows: GridRow[];
  params: string[];
  errors: ErrorMap;
  onChange: (rows: GridRow[]) => void;
}

// One-click value lists for the axes researchers sweep most.
const QUICK: Record<string, { label: string; values: string }[]> = {
  seqLen: [
    { label: '1k–16k', values: '1024, 2048, 4096, 8192, 16384' },
    { label: '128–1k', values: '128, 256, 512, 1024' },
  ],
  seed: [{ label: '3 seeds', values: '1, 2, 3' }],
  batch: [{ label: '1, 4, 16', values: '1, 4, 16' }],
  learningRate: [{ label: '1e-3..1e-2', values: '0.001, 0.003, 0.01' }],
};

/** The sweep's axes: each row is a parameter and its values; runs = variants x product of the rows. */
export function GridEditor({ rows, params, errors, onChange }: GridEditorProps) {
  const used = new Set(rows.map((r) => r.param));
  const update = (i: number, row: GridRow) => onChange(rows.map((r, j) => (j === i ? row : r)));
  return (
    <fieldset className={`grid-editor${errors.grid ? ' field-invalid' : ''}`}>
      <legend>Grid</legend>
      <FieldMessages path="grid" errors={errors} />
      {rows.length === 0 ? <p className="muted">No grid: one run per variant.</p> : null}
      {rows.map((row, i) => {
        const path = `grid.${row.param}`;
        const values = parseList(row.values);
        return (
          <div className="grid-row" key={row.uid}>
            <div className="field">
              <label htmlFor={`grid-param-${row.uid}`}>Parameter</label>
              <select id={`grid-param-${row.uid}`} value={row.param} onChange={(e) => update(i, { ...row, param: e.target.value })}>
                {params.map((p) => (
                  <option key={p} value={p} disabled={p !== row.param && used.has(p)}>
                    {p}
                  </option>
                ))}
              </select>
            </div>
            <div className={`field grow${errors[path] ? ' field-invalid' : ''}`}>
              <label htmlFor={fieldId(path)}>Values of {row.param} (comma separated)</label>
              <input {...inputProps(path, errors)} type="text" value={row.values} onChange={(e) => update(i, { ...row, values: e.target.value })} />
              <FieldMessages path={path} errors={errors} />
              <div className="chips" aria-hidden="true">
                {values.map((v, k) => (
                  <span className="chip" key={`${k}-${String(v)}`}>
                    {String(v)}
                  </span>
                ))}
              </div>
            </div>
            <div className="row-actions">
              {(QUICK[row.param] ?? []).map((q) => (
                <button type="button" key={q.label} onClick={() => update(i, { ...row, values: q.values })}>
                  {q.label}
                </button>
              ))}
              <button type="button" className="danger" onClick={() => onChange(rows.filter((_, j) => j !== i))} aria-label={`Remove grid axis ${row.param}`}>
                Remove
              </button>
            </div>
          </div>
        );
      })}
      <button
        type="button"
        onClick={() => {
          const free = params.find((p) => !used.has(p));
          if (free) onChange([...rows, { uid: uid('g'), param: free, values: '' }]);
        }}
        disabled={params.every((p) => used.has(p))}
      >
        Add grid axis
      </button>
    </fieldset>
  );
}
