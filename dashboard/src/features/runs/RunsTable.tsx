import { Link } from 'react-router';
import type { RunSummary } from '../../shared/api/types';
import { TERMINAL_STATUSES } from '../../shared/api/types';
import { dateTime, duration, shortId } from '../../shared/format';
import { StatusBadge } from '../../shared/ui/StatusBadge';
import { formatGridValue, gridValue, variantLabels, type SweepAxes } from '../experiments/sweep';
import { groupRuns, type GroupBy } from './grouping';

export interface SortState {
  field: string;
  dir: 'asc' | 'desc';
}

export function parseSort(text: string | null | undefined, fallback: SortState = { field: 'createdAt', dir: 'desc' }): SortState {
  if (!text) return fallback;
  const [field, dir] = text.split(',');
  return { field: field || fallback.field, dir: dir === 'asc' ? 'asc' : 'desc' };
}

export const formatSort = (s: SortState) => `${s.field},${s.dir}`;

const COLUMNS: { field: string; label: string; sortable: boolean }[] = [
  { field: 'id', label: 'Run', sortable: false },
  { field: 'experiment', label: 'Experiment', sortable: true },
  { field: 'family', label: 'Family', sortable: true },
  { field: 'kind', label: 'Kind', sortable: true },
  { field: 'status', label: 'Status', sortable: true },
  { field: 'attempt', label: 'Attempt', sortable: true },
  { field: 'failureClass', label: 'Failure', sortable: true },
  { field: 'workerId', label: 'Worker', sortable: false },
  { field: 'createdAt', label: 'Created', sortable: true },
  { field: 'duration', label: 'Duration', sortable: false },
];

export interface RunsTableProps {
  runs: RunSummary[];
  groupBy?: GroupBy;
  sort?: SortState;
  onSort?: (s: SortState) => void;
  selected: ReadonlySet<string>;
  onSelect: (id: string, on: boolean) => void;
  onCancel?: (run: RunSummary) => void;
  caption: string;
  /** The runs of one sweep: a column per axis it varies (variant, grid keys), so each row says its grid point. */
  sweep?: SweepAxes;
}

/** The runs of one server page; selection feeds the compare view, actions act on one run. */
export function RunsTable({ runs, groupBy = 'none', sort, onSort, selected, onSelect, onCancel, caption, sweep }: RunsTableProps) {
  const groups = groupRuns(runs, groupBy);
  const labels = sweep?.variant ? variantLabels(runs) : undefined;
  const sweepKeys = sweep?.keys ?? [];
  const sweepColumns = (labels ? 1 : 0) + sweepKeys.length;
  const header = (c: (typeof COLUMNS)[number]) => {
    const active = sort?.field === c.field;
    const ariaSort = active ? (sort!.dir === 'asc' ? 'ascending' : 'descending') : 'none';
    return (
      <th key={c.field} scope="col" aria-sort={c.sortable ? ariaSort : undefined}>
        {c.sortable && onSort ? (
          <button type="button" className="sort" onClick={() => onSort({ field: c.field, dir: active && sort!.dir === 'desc' ? 'asc' : 'desc' })}>
            {c.label}
            <span aria-hidden="true">{active ? (sort!.dir === 'asc' ? ' ▲' : ' ▼') : ''}</span>
          </button>
        ) : (
          c.label
        )}
      </th>
    );
  };
  return (
    <table className="data-table runs-table">
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">
            <span className="sr-only">Select</span>
          </th>
          {header(COLUMNS[0])}
          {labels ? (
            <th scope="col" className="sweep-axis">
              Variant
            </th>
          ) : null}
          {sweepKeys.map((k) => (
            <th key={`grid-${k}`} scope="col" className="sweep-axis">
              {k}
            </th>
          ))}
          {COLUMNS.slice(1).map(header)}
          <th scope="col">Actions</th>
        </tr>
      </thead>
      {groups.map((g) => (
        <tbody key={g.key}>
          {groupBy !== 'none' ? (
            <tr className="group-row">
              <th colSpan={COLUMNS.length + sweepColumns + 2} scope="rowgroup">
                {g.key} <span className="muted">({g.runs.length} on this page: {Object.entries(g.counts).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ')})</span>
              </th>
            </tr>
          ) : null}
          {g.runs.map((run) => (
            <tr key={run.id} data-run-id={run.id} data-status={run.status}>
              <td>
                <input type="checkbox" aria-label={`Select run ${shortId(run.id)}`} checked={selected.has(run.id)} onChange={(e) => onSelect(run.id, e.target.checked)} />
              </td>
              <td>
                <Link to={`/runs/${run.id}`}>
                  <code>{shortId(run.id)}</code>
                </Link>
              </td>
              {labels ? <td className="sweep-axis">{labels.get(run.id)}</td> : null}
              {sweepKeys.map((k) => (
                <td key={`grid-${k}`} className="sweep-axis">
                  {formatGridValue(gridValue(run, k))}
                </td>
              ))}
              <td>{run.experimentId ? <Link to={`/experiments/${run.experimentId}`}>{run.experimentName ?? shortId(run.experimentId)}</Link> : '—'}</td>
              <td>{run.family}</td>
              <td>{run.kind?.toLowerCase()}</td>
              <td>
                <StatusBadge status={run.status} />
              </td>
              <td>
                {run.attempt ?? '—'}
                {run.maxAttempts ? `/${run.maxAttempts}` : ''}
              </td>
              <td title={run.failureMessage ?? undefined}>{run.failureClass ?? ''}</td>
              <td>{run.workerId ?? ''}</td>
              <td>{dateTime(run.createdAt)}</td>
              <td>{run.startedAt ? duration(run.startedAt, run.finishedAt) : ''}</td>
              <td>
                <div className="row-actions">
                {onCancel && !TERMINAL_STATUSES.includes(run.status) ? (
                  <button type="button" className="danger" onClick={() => onCancel(run)} aria-label={`Cancel run ${shortId(run.id)}`}>
                    Cancel
                  </button>
                ) : null}
                {TERMINAL_STATUSES.includes(run.status) ? (
                  // Only a finished run is re-run: one still queued or running has not given its result yet.
                  <Link to={`/submit?rerun=${run.id}`} aria-label={`Re-run run ${shortId(run.id)}`}>
                    Re-run
                  </Link>
                ) : null}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}
