import { PHASES, SCOPES, type BenchmarkCell } from '../../shared/api/types';
import { bytes, fixed, sig, siUnit } from '../../shared/format';

export function cellKey(c: Pick<BenchmarkCell, 'phase' | 'scope' | 'causal' | 'batch' | 'seqLen' | 'dtype'>): string {
  return `${c.phase}|${c.scope}|${c.causal ? 'causal' : 'full'}|b${c.batch}|s${c.seqLen}|${c.dtype}`;
}

/** Phases in the order they run (forward, backward, decode), then scopes core before layer; unknown ones last. */
export function phaseRank(phase: string): number {
  const i = (PHASES as readonly string[]).indexOf(phase);
  return i < 0 ? PHASES.length : i;
}

export function scopeRank(scope: string): number {
  const i = (SCOPES as readonly string[]).indexOf(scope);
  return i < 0 ? SCOPES.length : i;
}

/** The benchmark measurements of one run, including the numerical error against the float64 reference. */
export function CellsTable({ cells }: { cells: BenchmarkCell[] }) {
  if (cells.length === 0) return <p className="empty">No benchmark cells yet.</p>;
  const sorted = [...cells].sort((a, b) => phaseRank(a.phase) - phaseRank(b.phase) || scopeRank(a.scope) - scopeRank(b.scope) || a.seqLen - b.seqLen || a.batch - b.batch);
  return (
    <table className="data-table">
      <caption className="sr-only">Benchmark cells</caption>
      <thead>
        <tr>
          {['Phase', 'Scope', 'Causal', 'Batch', 'Seq len', 'dtype', 'Backend', 'p10 ms', 'p50 ms', 'p90 ms', 'TFLOP/s', 'Bytes/s', 'Peak memory', 'KV / token', 'Max abs err', 'Max rel err'].map((h) => (
            <th key={h} scope="col">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {sorted.map((c) => (
          <tr key={cellKey(c)}>
            <td>{c.phase}</td>
            <td>{c.scope}</td>
            <td>{c.causal ? 'yes' : 'no'}</td>
            <td>{c.batch}</td>
            <td>{c.seqLen}</td>
            <td>{c.dtype}</td>
            <td>{c.backend ?? ''}</td>
            <td>{sig(c.p10Ms)}</td>
            <td>{sig(c.p50Ms)}</td>
            <td>{sig(c.p90Ms)}</td>
            <td>{sig(c.tflops)}</td>
            <td>{siUnit(c.bytesPerSecond, 'B/s')}</td>
            <td>{bytes(c.peakMemoryBytes)}</td>
            <td>{bytes(c.kvBytesPerToken)}</td>
            <td>{c.maxAbsError === null || c.maxAbsError === undefined ? '—' : fixed(c.maxAbsError, 2)}</td>
            <td>{c.maxRelError === null || c.maxRelError === undefined ? '—' : fixed(c.maxRelError, 2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
