import type { FieldError } from '../../shared/api/http';
import type { Family } from '../../shared/api/types';
import type { FamilySpec, ParamSpec } from './catalog';
import { CostPanel } from './CostPanel';
import { FieldMessages, inputProps, type ErrorMap } from './Field';
import { fieldId } from './fieldErrors';
import { draftFromConfig, variantToConfig, type VariantDraft } from './form';

export interface VariantEditorProps {
  index: number;
  draft: VariantDraft;
  families: FamilySpec[];
  errors: ErrorMap;
  seqLen: number;
  dtype?: string;
  /** A TRAINING experiment: the variant builds a language model (an OVQ one is an SWA/OVQ hybrid). */
  training?: boolean;
  onChange: (draft: VariantDraft) => void;
  onRemove: () => void;
  onDuplicate: () => void;
  onCostProblem?: (errors: FieldError[], variantJson: string) => void;
}

function ParamInput({ path, spec, value, errors, onChange }: { path: string; spec: ParamSpec; value: string; errors: ErrorMap; onChange: (v: string) => void }) {
  const label = spec.name.split('.').slice(-2).join(' ');
  const placeholder = spec.defaultValue === undefined || spec.defaultValue === null ? '' : String(spec.defaultValue);
  const range = spec.min !== undefined && spec.min !== null && spec.max !== undefined && spec.max !== null ? ` (${spec.min}..${spec.max})` : '';
  let input;
  if (spec.type === 'boolean' || spec.type === 'enum') {
    const options = spec.type === 'boolean' ? ['true', 'false'] : (spec.allowed ?? []);
    input = (
      <select {...inputProps(path, errors)} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">default ({placeholder})</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else {
    input = <input {...inputProps(path, errors)} type="text" inputMode={spec.type === 'int' ? 'numeric' : 'decimal'} value={value} placeholder={placeholder} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className={`field${errors[path] ? ' field-invalid' : ''}`}>
      <label htmlFor={fieldId(path)} title={`${spec.description ?? ''}${range}`}>
        {label}
      </label>
      {input}
      <FieldMessages path={path} errors={errors} />
    </div>
  );
}

/** One variant of the sweep: family, its parameters (nested ones folded away), and its live cost. */
export function VariantEditor({ index, draft, families, errors, seqLen, dtype, training, onChange, onRemove, onDuplicate, onCostProblem }: VariantEditorProps) {
  const base = `variants[${index}]`;
  const spec = families.find((f) => f.family === draft.family);
  const params = spec?.parameters ?? [];
  const main = params.filter((p) => !p.name.includes('.'));
  const nested = params.filter((p) => p.name.includes('.'));
  // engine model.LayerPattern: with swaWindow W > 0 the even blocks (the first included) are sliding-window MHA.
  const swaParam = params.find((p) => p.name === 'ovq.swaWindow');
  const swaWindow = draft.family === 'ovq' ? Number(draft.params['ovq.swaWindow'] || (swaParam?.defaultValue ?? 0)) : 0;
  const setParam = (name: string, value: string) => onChange({ ...draft, params: { ...draft.params, [name]: value } });
  const changeFamily = (family: Family) => {
    const next = families.find((f) => f.family === family);
    if (next) onChange({ ...draftFromConfig(next.defaultConfig, next), uid: draft.uid });
  };
  return (
    <fieldset className={`variant-card${errors[base] ? ' field-invalid' : ''}`} aria-labelledby={`${fieldId(base)}-legend`}>
      <legend id={`${fieldId(base)}-legend`}>
        Variant {index + 1}: {spec?.title ?? draft.family}
      </legend>
      <FieldMessages path={base} errors={errors} />
      <div className="field">
        <label htmlFor={fieldId(`${base}.family`)}>family</label>
        <select {...inputProps(`${base}.family`, errors)} value={draft.family} onChange={(e) => changeFamily(e.target.value as Family)}>
          {families.map((f) => (
            <option key={f.family} value={f.family}>
              {f.family.toUpperCase()}
            </option>
          ))}
        </select>
        <FieldMessages path={`${base}.family`} errors={errors} />
      </div>
      <div className="param-grid">
        {main.map((p) => (
          <ParamInput key={p.name} path={`${base}.${p.name}`} spec={p} value={draft.params[p.name] ?? ''} errors={errors} onChange={(v) => setParam(p.name, v)} />
        ))}
      </div>
      {nested.length > 0 ? (
        <details open={nested.some((p) => errors[`${base}.${p.name}`]) || undefined}>
          <summary>Advanced ({nested.length})</summary>
          <div className="param-grid">
            {nested.map((p) => (
              <ParamInput key={p.name} path={`${base}.${p.name}`} spec={p} value={draft.params[p.name] ?? ''} errors={errors} onChange={(v) => setParam(p.name, v)} />
            ))}
          </div>
        </details>
      ) : null}
      <CostPanel variant={variantToConfig(draft)} seqLen={seqLen} dtype={dtype} onProblem={onCostProblem} />
      {training && swaWindow > 0 ? (
        <p className="muted" data-testid={`${fieldId(base)}-hybrid-note`}>
          In a training run this OVQ layer alternates with sliding-window MHA layers (window {swaWindow}, RoPE; the first block is one): the cost above is
          the OVQ layer's, and each SWA layer keeps a KV cache of min(S, {swaWindow}) tokens. Set ovq swaWindow 0 for OVQ layers only.
        </p>
      ) : null}
      <div className="row-actions">
        <button type="button" onClick={onDuplicate} aria-label={`Duplicate variant ${index + 1}`}>
          Duplicate
        </button>
        <button type="button" className="danger" onClick={onRemove} aria-label={`Remove variant ${index + 1}`}>
          Remove
        </button>
      </div>
    </fieldset>
  );
}
