import type { BenchmarkCell } from '../../shared/api/types';
import { bytes, fixed, si } from '../../shared/format';

export function cellKey(c: Pick<BenchmarkCell, 'phase' | 'scope' | 'causal' | 'batch' | 'seqLen' | 'dtype'>): string {
  return `${c.phase}|${c.scope}|${c.causal ? 'causal' : 'full'}|b${c.batch}|s${c.seqLen}|${c.dtype}`;
}

/** The benchmark measurements of one run, including the numerical error against the float64 reference. */
export function CellsTable({ cells }: { cells: BenchmarkCell[] }) {
  if (cells.length === 0) return <p className="empty">No benchmark cells yet.</p>;
  const sorted = [...cells].sort((a, b) => a.phase.localeCompare(b.phase) || a.scope.localeCompare(b.scope) || a.seqLen - b.seqLen || a.batch - b.batch);
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
            <td>{fixed(c.p10Ms)}</td>
            <td>{fixed(c.p50Ms)}</td>
            <td>{fixed(c.p90Ms)}</td>
            <td>{fixed(c.tflops)}</td>
            <td>{si(c.bytesPerSecond, 'B/s')}</td>
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
