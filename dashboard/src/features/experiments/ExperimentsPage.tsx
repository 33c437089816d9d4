import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { endpoints } from '../../shared/api/endpoints';
import { dateTime, shortId } from '../../shared/format';
import { Pager } from '../../shared/ui/Pager';
import { Empty, ErrorBanner, Loading } from '../../shared/ui/States';
import { StatusBadge } from '../../shared/ui/StatusBadge';
import { StatusBar } from '../../shared/ui/StatusBar';
import { useAsync } from '../../shared/useAsync';
import { useDebounced } from '../../shared/useDebounced';
import { LiveIndicator, useLive } from '../live/useLive';
import { experimentsApi } from './api';

export function ExperimentsPage() {
  const [params, setParams] = useSearchParams();
  const page = Number(params.get('page') ?? 0) || 0;
  const size = Number(params.get('size') ?? 25) || 25;
  const q = params.get('q') ?? '';
  const kind = params.get('kind') ?? '';
  const status = params.get('status') ?? '';
  const live = useLive(endpoints.liveQueue, { pollMs: 5000 });
  const [qText, setQText] = useState(q);
  const settled = useDebounced(qText);
  const list = useAsync((signal) => experimentsApi.list({ q, kind, status, page, size, sort: 'createdAt,desc' }, signal), [q, kind, status, page, size, live.tick]);
  const update = (patch: Record<string, string | number>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(patch)) (v === '' ? next.delete(k) : next.set(k, String(v)));
    if (!('page' in patch)) next.delete('page');
    setParams(next, { replace: true });
  };
  useEffect(() => {
    if (settled !== q) update({ q: settled });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [settled]);
  return (
    <section aria-labelledby="experiments-title">
      <div className="title-row">
        <h1 id="experiments-title">Experiments</h1>
        <LiveIndicator live={live} />
        <Link className="button primary" to="/submit">
          New experiment
        </Link>
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search <input type="search" value={qText} onChange={(e) => setQText(e.target.value)} />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => update({ kind: e.target.value })}>
            <option value="">any</option>
            <option>BENCHMARK</option>
            <option>TRAINING</option>
          </select>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => update({ status: e.target.value })}>
            <option value="">any</option>
            {['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.data ? (
        list.data.items.length === 0 ? (
          <Empty>
            No experiments yet. <Link to="/submit">Submit the first one.</Link>
          </Empty>
        ) : (
          <>
            <table className="data-table">
              <caption className="sr-only">Experiments</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Status</th>
                  <th scope="col">Runs</th>
                  <th scope="col">Created</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((e) => (
                  <tr key={e.id} data-experiment-id={e.id}>
                    <td>
                      <Link to={`/experiments/${e.id}`}>{e.name || shortId(e.id)}</Link>
                    </td>
                    <td>{e.kind?.toLowerCase()}</td>
                    <td>
                      <StatusBadge status={e.status} />
                    </td>
                    <td>
                      {e.runCount ?? '—'} <StatusBar counts={e.runCounts} />
                    </td>
                    <td>{dateTime(e.createdAt)}</td>
                    <td>
                      <Link to={`/compare?experiments=${e.id}`}>Compare</Link>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager page={list.data.page} size={size} total={list.data.total} onPage={(p) => update({ page: p })} onSize={(s) => update({ size: s })} />
          </>
        )
      ) : list.loading ? (
        <Loading what="experiments" />
      ) : null}
    </section>
  );
}
