import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { endpoints } from '../../shared/api/endpoints';
import { TERMINAL_STATUSES } from '../../shared/api/types';
import { dateTime, shortId } from '../../shared/format';
import { Pager } from '../../shared/ui/Pager';
import { Empty, ErrorBanner, Loading } from '../../shared/ui/States';
import { StatusBadge } from '../../shared/ui/StatusBadge';
import { useAsync } from '../../shared/useAsync';
import { LiveIndicator, useLive } from '../live/useLive';
import { runsApi } from '../runs/api';
import type { GroupBy } from '../runs/grouping';
import { RunsTable } from '../runs/RunsTable';
import { experimentsApi } from './api';
import { sweepAxes } from './sweep';

const PAGE = 100;

/** An experiment and its runs, updated live until every run has finished. */
export function ExperimentPage() {
  const { id = '' } = useParams();
  const [page, setPage] = useState(0);
  const [groupBy, setGroupBy] = useState<GroupBy>('family');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState<Error>();
  const [message, setMessage] = useState<string>();
  const [done, setDone] = useState(false);
  const live = useLive(endpoints.liveQueue, { enabled: !done, pollMs: 2000 });
  const experiment = useAsync((signal) => experimentsApi.get(id, signal), [id, live.tick]);
  const runs = useAsync((signal) => runsApi.list({ experimentId: id, page, size: PAGE, sort: 'ordinal,asc' }, signal), [id, page, live.tick]);
  const items = runs.data?.items ?? [];
  const allDone = runs.data !== undefined && items.length > 0 && runs.data.total <= PAGE && items.every((r) => TERMINAL_STATUSES.includes(r.status));
  useEffect(() => setDone(allDone), [allDone]);

  const act = async (what: 'cancel' | 'rerun') => {
    try {
      if (what === 'cancel') await experimentsApi.cancel(id);
      else await experimentsApi.rerunFailed(id);
      setMessage(what === 'cancel' ? 'Cancellation requested.' : 'Failed runs queued again.');
      setActionError(undefined);
      setDone(false);
      runs.reload();
    } catch (e) {
      setActionError(e as Error);
    }
  };
  const counts: Record<string, number> = {};
  for (const r of items) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const exp = experiment.data;
  if (experiment.error && !exp) return <ErrorBanner error={experiment.error} onRetry={experiment.reload} />;
  return (
    <section aria-labelledby="experiment-title">
      <div className="title-row">
        <h1 id="experiment-title">{exp?.name ?? `Experiment ${shortId(id)}`}</h1>
        {exp ? <StatusBadge status={allDone ? (counts.FAILED ? 'FAILED' : counts.CANCELLED && !counts.SUCCEEDED ? 'CANCELLED' : 'SUCCEEDED') : exp.status} /> : null}
        {!done ? <LiveIndicator live={live} /> : null}
      </div>
      {exp?.description ? <p>{exp.description}</p> : null}
      <p className="muted">
        {exp?.kind?.toLowerCase()} · created {dateTime(exp?.createdAt)} · <code>{id}</code>
      </p>
      <p className="progress" aria-live="polite" data-testid="experiment-progress" data-done={allDone ? 'true' : 'false'}>
        {runs.data
          ? Object.entries(counts)
              .map(([s, n]) => `${n} ${s.toLowerCase()}`)
              .join(' · ') || 'no runs'
          : 'loading runs…'}
      </p>
      {message ? <p role="status">{message}</p> : null}
      <ErrorBanner error={actionError} />
      <div className="row-actions">
        <Link className="button primary" to={`/compare?experiments=${id}`}>
          Compare runs
        </Link>
        {/* No baseline: the compare view then uses the default it shares with the api (compare/baseline.ts), not the run ticked first. */}
        <Link className={`button${selected.size < 1 ? ' disabled' : ''}`} aria-disabled={selected.size < 1} to={selected.size < 1 ? '#' : `/compare?runs=${[...selected].join(',')}`}>
          Compare selected ({selected.size})
        </Link>
        <Link className="button" to={`/submit?from=${id}`}>
          Submit again (edit)
        </Link>
        <button
          type="button"
          className="danger"
          onClick={() => {
            const open = items.filter((r) => !TERMINAL_STATUSES.includes(r.status)).length;
            const what = `${open} unfinished run${open === 1 ? '' : 's'}${runs.data && runs.data.total > items.length ? ' on this page, and those on the other pages,' : ''}`;
            if (window.confirm(`Cancel experiment “${exp?.name ?? id}”? Its ${what} will stop (running ones at their next step). This cannot be undone.`)) void act('cancel');
          }}
          disabled={allDone}
        >
          Cancel experiment
        </button>
        <button type="button" onClick={() => act('rerun')} disabled={!counts.FAILED && !counts.CANCELLED}>
          Re-run failed
        </button>
        <label>
          Group by{' '}
          <select value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
            <option value="none">nothing</option>
            <option value="family">family</option>
            <option value="status">status</option>
            <option value="failureClass">failure class</option>
          </select>
        </label>
      </div>
      {exp?.request ? (
        <details>
          <summary>Submission as received</summary>
          <pre className="json" tabIndex={0} aria-label="Submission as received">
            {JSON.stringify(exp.request, null, 2)}
          </pre>
        </details>
      ) : null}
      <ErrorBanner error={runs.error} onRetry={runs.reload} />
      {runs.data ? (
        items.length === 0 ? (
          <Empty>This experiment has no runs.</Empty>
        ) : (
          <>
            <RunsTable
              runs={items}
              groupBy={groupBy}
              selected={selected}
              onSelect={(rid, on) =>
                setSelected((s) => {
                  const n = new Set(s);
                  if (on) n.add(rid);
                  else n.delete(rid);
                  return n;
                })
              }
              onCancel={async (r) => {
                try {
                  await runsApi.cancel(r.id);
                  runs.reload();
                } catch (e) {
                  setActionError(e as Error);
                }
              }}
              caption={`Runs of ${exp?.name ?? id}`}
              sweep={sweepAxes(exp, items)}
            />
            {runs.data.total > PAGE ? <Pager page={page} size={PAGE} total={runs.data.total} onPage={setPage} /> : null}
          </>
        )
      ) : (
        <Loading what="runs" />
      )}
    </section>
  );
}
