import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { endpoints } from '../../shared/api/endpoints';
import { TERMINAL_STATUSES, type EnvironmentFingerprint, type RunEventRow } from '../../shared/api/types';
import { bytes, dateTime, duration, shortId } from '../../shared/format';
import { ErrorBanner, Loading } from '../../shared/ui/States';
import { StatusBadge } from '../../shared/ui/StatusBadge';
import { useAsync } from '../../shared/useAsync';
import { CostPanel } from '../experiments/CostPanel';
import { LiveIndicator, useLive } from '../live/useLive';
import { runsApi } from './api';
import { CellsTable } from './CellsTable';
import { eventSummary } from './eventSummary';
import { flatten, withoutNulls } from './flatten';
import { MetricCharts } from './MetricCharts';
import { determinismSummary } from './determinism';

function KeyValues({ data, label }: { data: Record<string, string>; label: string }) {
  const entries = Object.entries(data);
  if (entries.length === 0) return <p className="empty">Nothing recorded.</p>;
  return (
    <table className="kv-table">
      <caption className="sr-only">{label}</caption>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>
              <code>{v}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * How one attempt of the run ended, or where it stands: its terminal event (a failure with its class), else the
 * run's status for the current attempt, else "ended" (an earlier attempt whose outcome the log does not hold).
 */
function attemptState(attempt: number, run: { attempt?: number; status: string }, events: RunEventRow[]): string {
  const end = [...events].reverse().find((e) => e.attempt === attempt && (TERMINAL_STATUSES as readonly string[]).includes(e.type));
  if (end) {
    const p = (end.payload ?? {}) as { failure?: { failureClass?: string } };
    const cls = end.type === 'FAILED' ? p.failure?.failureClass : undefined;
    return `${end.type.toLowerCase()}${cls ? ` (${cls})` : ''}`;
  }
  if (run.attempt === undefined || attempt === run.attempt) return run.status.toLowerCase();
  return 'ended';
}

/** One run, live: status, metric charts, cells, config, environment, checkpoints and its event log. */
export function RunPage() {
  const { id = '' } = useParams();
  const [actionError, setActionError] = useState<Error>();
  const [showHeartbeats, setShowHeartbeats] = useState(false);
  const [finished, setFinished] = useState(false);
  // After a terminal status the stream is closed: nothing about the run changes any more.
  const live = useLive(endpoints.liveRun(id), { enabled: !finished });
  const tick = live.tick;
  const detail = useAsync((signal) => runsApi.get(id, signal), [id, tick]);
  const run = detail.data;
  const terminal = run ? TERMINAL_STATUSES.includes(run.status) : false;
  useEffect(() => setFinished(terminal), [terminal]);
  // No names: the api answers every series the run has.
  const names = run?.metricNames ?? [];
  const metrics = useAsync((signal) => runsApi.series(id, names, { maxPoints: 800 }, signal), [id, names.join(','), tick, run?.status]);
  const cells = useAsync((signal) => (run?.kind === 'TRAINING' ? Promise.resolve([]) : runsApi.cells(id, signal)), [id, run?.kind, tick, run?.status]);
  const events = useAsync((signal) => runsApi.events(id, signal), [id, tick, run?.status]);

  if (detail.error && !run) return <ErrorBanner error={detail.error} onRetry={detail.reload} />;
  if (!run) return <Loading what="the run" />;

  const envs: EnvironmentFingerprint[] = run.environments ?? (run.environment ? [run.environment] : []);
  const cancel = async () => {
    try {
      await runsApi.cancel(run.id);
      detail.reload();
    } catch (e) {
      setActionError(e as Error);
    }
  };
  return (
    <section aria-labelledby="run-title">
      <div className="title-row">
        <h1 id="run-title">
          Run <code>{shortId(run.id)}</code> · {run.family?.toUpperCase()} {run.kind?.toLowerCase()}
        </h1>
        <StatusBadge status={run.status} />
        {!finished ? <LiveIndicator live={live} /> : null}
      </div>
      <ErrorBanner error={actionError} />
      <dl className="facts">
        <div>
          <dt>Experiment</dt>
          <dd>{run.experimentId ? <Link to={`/experiments/${run.experimentId}`}>{run.experimentName ?? shortId(run.experimentId)}</Link> : '—'}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>
            {run.attempt ?? '—'}
            {run.maxAttempts ? ` of ${run.maxAttempts}` : ''}
          </dd>
        </div>
        <div>
          <dt>Worker</dt>
          <dd>{run.workerId ?? '—'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{dateTime(run.createdAt)}</dd>
        </div>
        <div>
          <dt>{run.finishedAt ? 'Duration' : 'Running for'}</dt>
          <dd>{run.startedAt ? duration(run.startedAt, run.finishedAt) : '—'}</dd>
        </div>
        <div>
          <dt>Deterministic backward</dt>
          <dd data-testid="deterministic">{determinismSummary(run.spec, envs)}</dd>
        </div>
        <div>
          <dt>Config hash</dt>
          <dd>
            <code>{run.configHash?.slice(0, 12) ?? '—'}</code>
          </dd>
        </div>
      </dl>
      {run.status === 'FAILED' ? (
        <div className="error-banner" role="alert">
          <strong>{run.failureClass ?? 'Failed'}</strong> {run.failureMessage}
        </div>
      ) : run.failureClass || run.failureMessage ? (
        // Not this run's outcome: why it is being retried, or what its worker said while it was cancelled.
        <p className="muted failure-note" data-testid="failure-note">
          {run.status === 'RETRYING' ? `Retrying after attempt ${Math.max(1, (run.attempt ?? 2) - 1)} failed: ` : run.status === 'CANCELLED' ? '' : 'An earlier attempt failed: '}
          {run.failureClass && !(run.failureMessage ?? '').includes(run.failureClass) ? `${run.failureClass} ` : ''}
          {run.failureMessage}
        </p>
      ) : null}
      <div className="row-actions">
        {!finished ? (
          <button type="button" className="danger" onClick={cancel}>
            Cancel run
          </button>
        ) : null}
        {terminal ? (
          <Link className="button" to={`/submit?rerun=${run.id}`}>
            Re-run
          </Link>
        ) : null}
        <Link className="button" to={`/compare?runs=${run.id}&baseline=${run.id}`}>
          Compare…
        </Link>
      </div>

      {run.kind === 'TRAINING' || names.length > 0 ? (
        <>
          <h2>Metrics</h2>
          <ErrorBanner error={metrics.error} />
          {metrics.data ? <MetricCharts series={metrics.data} /> : <Loading what="metrics" />}
        </>
      ) : null}

      {run.kind !== 'TRAINING' ? (
        <>
          <h2>Benchmark cells</h2>
          <ErrorBanner error={cells.error} />
          {cells.data ? <CellsTable cells={cells.data} /> : <Loading what="cells" />}
        </>
      ) : null}

      {run.spec?.variant ? (
        <>
          <h2>Cost model</h2>
          <CostPanel
            variant={run.spec.variant}
            seqLen={run.spec.benchmark?.seqLen ?? run.spec.training?.seqLen ?? 1024}
            dtype={run.spec.benchmark?.dtype && ['bf16', 'fp16', 'fp32', 'fp64'].includes(run.spec.benchmark.dtype) ? run.spec.benchmark.dtype : undefined}
            kvDtypeInLabel
          />
        </>
      ) : null}

      <div className="two-col">
        <div>
          <h2>Config</h2>
          <KeyValues data={flatten(withoutNulls(run.spec))} label="Run configuration" />
        </div>
        <div>
          <h2>Environment</h2>
          {envs.length === 0 ? (
            <p className="empty">Not started yet.</p>
          ) : (
            envs.map((env, i) => {
              const n = env.attempt ?? i + 1;
              return (
                <div key={i} className="attempt-env">
                  <h3>
                    Attempt {n} <span className="muted">· {attemptState(n, run, events.data ?? [])}</span>
                  </h3>
                  <KeyValues data={flatten(env)} label={`Environment of attempt ${n}`} />
                </div>
              );
            })
          )}
          <h2>Checkpoints</h2>
          {run.checkpoints && run.checkpoints.length > 0 ? (
            <table className="data-table">
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">URI</th>
                  <th scope="col">Size</th>
                  <th scope="col">sha256</th>
                </tr>
              </thead>
              <tbody>
                {run.checkpoints.map((c) => (
                  <tr key={c.step}>
                    <td>{c.step}</td>
                    <td>
                      <code>{c.uri}</code>
                    </td>
                    <td>{bytes(c.bytes)}</td>
                    <td>
                      <code>{c.sha256?.slice(0, 12)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="empty">No checkpoints.</p>
          )}
        </div>
      </div>

      <h2>Event log</h2>
      <ErrorBanner error={events.error} />
      <label>
        <input type="checkbox" checked={showHeartbeats} onChange={(e) => setShowHeartbeats(e.target.checked)} /> show heartbeats
      </label>
      {events.data && events.data.length > 0 ? (
        <ol className="event-log" aria-label="Event log">
          {events.data.filter((e) => showHeartbeats || e.type !== 'HEARTBEAT').map((e) => (
            <li key={`${e.attempt}-${e.seq}`}>
              <time>{dateTime(e.time)}</time> <span className="muted">#{e.attempt}.{e.seq}</span> <strong>{e.type}</strong>{' '}
              <span className="payload">{eventSummary(e.type, e.payload)}</span>
            </li>
          ))}
        </ol>
      ) : (
        <p className="empty">No events yet.</p>
      )}
    </section>
  );
}
