import { useState } from 'react';
import { Link } from 'react-router';
import { endpoints } from '../../shared/api/endpoints';
import { bytes, dateTime, duration, seconds, shortId } from '../../shared/format';
import { Empty, ErrorBanner, Loading } from '../../shared/ui/States';
import { StatusBadge } from '../../shared/ui/StatusBadge';
import { useAsync } from '../../shared/useAsync';
import { LiveIndicator, useLive } from '../live/useLive';
import { runsApi } from '../runs/api';
import type { QueueEntry } from '../../shared/api/types';
import { queueApi } from './api';

const STATUS_ORDER = ['QUEUED', 'RETRYING', 'DISPATCHED', 'RUNNING'];

/**
 * How long a run not yet started has waited (queued, retrying, or dispatched to a worker that has not begun it);
 * blank once it runs, where the api's waitSeconds is only the wait it once had.
 */
function waiting(e: QueueEntry): string {
  if (e.status === 'RUNNING') return '';
  return e.waitSeconds !== undefined && e.waitSeconds !== null ? seconds(e.waitSeconds) : duration(e.createdAt);
}

/** How long a running run has run: the api's runningSeconds, else since its start; blank for the others. */
function running(e: QueueEntry): string {
  if (e.status !== 'RUNNING') return '';
  return e.runningSeconds !== undefined && e.runningSeconds !== null ? seconds(e.runningSeconds) : duration(e.startedAt);
}

/** What is waiting and what is running where, live; the workers; the records nothing could process. */
export function QueuePage() {
  const live = useLive(endpoints.liveQueue);
  const queue = useAsync((signal) => queueApi.queue(signal), [live.tick]);
  const workers = useAsync((signal) => queueApi.workers(signal), [live.tick]);
  const dead = useAsync((signal) => queueApi.deadLetters(signal), [live.tick]);
  const [actionError, setActionError] = useState<Error>();
  const cancel = async (runId: string) => {
    try {
      await runsApi.cancel(runId);
      setActionError(undefined);
      queue.reload();
    } catch (e) {
      setActionError(e as Error);
    }
  };
  return (
    <section aria-labelledby="queue-title">
      <div className="title-row">
        <h1 id="queue-title">Queue</h1>
        <LiveIndicator live={live} />
      </div>
      <ErrorBanner error={queue.error} onRetry={queue.reload} />
      <ErrorBanner error={actionError} />
      {queue.data ? (
        <>
          <p aria-live="polite">
            {Object.entries(queue.data.counts)
              .sort((a, b) => STATUS_ORDER.indexOf(a[0]) - STATUS_ORDER.indexOf(b[0]))
              .map(([s, n]) => `${n} ${s.toLowerCase()}`)
              .join(' · ') || 'Nothing queued or running.'}
          </p>
          {queue.data.entries.length === 0 ? (
            <Empty>The queue is empty.</Empty>
          ) : (
            <table className="data-table">
              <caption className="sr-only">Queued and running runs</caption>
              <thead>
                <tr>
                  {['Run', 'Experiment', 'Family', 'Kind', 'Status', 'Priority', 'Attempt', 'Worker', 'Waiting', 'Running', 'Actions'].map((h) => (
                    <th scope="col" key={h}>
                      {h}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {queue.data.entries.map((e) => (
                  <tr key={e.runId}>
                    <td>
                      <Link to={`/runs/${e.runId}`}>
                        <code>{shortId(e.runId)}</code>
                      </Link>
                    </td>
                    <td>{e.experimentId ? <Link to={`/experiments/${e.experimentId}`}>{e.experimentName ?? shortId(e.experimentId)}</Link> : '—'}</td>
                    <td>{e.family}</td>
                    <td>{e.kind?.toLowerCase()}</td>
                    <td>
                      <StatusBadge status={e.status} />
                    </td>
                    <td>{e.priority ?? ''}</td>
                    <td>{e.attempt ?? ''}</td>
                    <td>{e.workerId ?? ''}</td>
                    <td>{waiting(e)}</td>
                    <td>{running(e)}</td>
                    <td>
                      <button type="button" className="danger" onClick={() => cancel(e.runId)} aria-label={`Cancel run ${shortId(e.runId)}`}>
                        Cancel
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : (
        <Loading what="the queue" />
      )}

      <h2>Workers</h2>
      <ErrorBanner error={workers.error} />
      {workers.data ? (
        workers.data.length === 0 ? (
          <Empty>No worker has announced itself.</Empty>
        ) : (
          <table className="data-table">
            <caption className="sr-only">Workers</caption>
            <thead>
              <tr>
                {['Worker', 'Backend', 'Device', 'Memory', 'Engine', 'Host', 'Last seen', 'Current run'].map((h) => (
                  <th scope="col" key={h}>
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {workers.data.map((w) => (
                <tr key={w.id}>
                  <td>
                    <code>{w.id}</code>
                  </td>
                  <td>{w.backend}</td>
                  <td>{w.device}</td>
                  <td>{bytes(w.deviceMemoryBytes)}</td>
                  <td>{w.engineVersion}</td>
                  <td>{w.host}</td>
                  <td>{dateTime(w.lastSeenAt)}</td>
                  <td>{w.currentRunId ? <Link to={`/runs/${w.currentRunId}`}>{shortId(w.currentRunId)}</Link> : 'idle'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : (
        <Loading what="workers" />
      )}

      <h2>Dead letters</h2>
      <ErrorBanner error={dead.error} />
      {dead.data ? (
        dead.data.length === 0 ? (
          <Empty>No dead letters.</Empty>
        ) : (
          <table className="data-table">
            <caption className="sr-only">Dead letters</caption>
            <thead>
              <tr>
                {['Received', 'Topic', 'Key', 'Error'].map((h) => (
                  <th scope="col" key={h}>
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {dead.data.map((d) => (
                <tr key={String(d.id)}>
                  <td>{dateTime(d.receivedAt)}</td>
                  <td>{d.topic}</td>
                  <td>
                    <code>{d.recordKey}</code>
                  </td>
                  <td>{d.error}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : (
        <Loading what="dead letters" />
      )}
    </section>
  );
}
