import { useEffect, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { endpoints } from '../../shared/api/endpoints';
import { FAILURE_CLASSES, FAMILIES, RUN_STATUSES, type RunSummary } from '../../shared/api/types';
import { Pager } from '../../shared/ui/Pager';
import { Empty, ErrorBanner, Loading } from '../../shared/ui/States';
import { useAsync } from '../../shared/useAsync';
import { useDebounced } from '../../shared/useDebounced';
import { sweepAxes } from '../experiments/sweep';
import { LiveIndicator, useLive } from '../live/useLive';
import { runsApi } from './api';
import type { GroupBy } from './grouping';
import { RunsTable, formatSort, parseSort } from './RunsTable';

const FILTERS = ['status', 'family', 'kind', 'failureClass', 'experimentId', 'q'] as const;

/**
 * The columns that tell the runs of this page apart, as on the experiment page: the variant (family and its key
 * dimensions) always, since runs of several experiments mix here, and each grid key whose value differs among them.
 */
function pageAxes(runs: RunSummary[]) {
  return { variant: true, keys: sweepAxes(undefined, runs).keys };
}

/** Every run, paged, filtered and sorted by the server; the URL holds the view so it can be shared. */
export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const page = Number(params.get('page') ?? 0) || 0;
  const size = Number(params.get('size') ?? 50) || 50;
  const sort = parseSort(params.get('sort'));
  const groupBy = (params.get('group') ?? 'none') as GroupBy;
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ''])) as Record<(typeof FILTERS)[number], string>;
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState<Error>();
  const live = useLive(endpoints.liveQueue, { pollMs: 5000 });
  const [qText, setQText] = useState(filters.q);
  const q = useDebounced(qText);
  useEffect(() => {
    if (q !== filters.q) update({ q });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  const query = useMemo(() => ({ ...filters, page, size, sort: formatSort(sort) }), [params.toString()]); // eslint-disable-line react-hooks/exhaustive-deps
  const runs = useAsync((signal) => runsApi.list(query, signal), [JSON.stringify(query), live.tick]);

  const update = (patch: Record<string, string | number | undefined>, resetPage = true) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined || v === '' || v === 'none') next.delete(k);
      else next.set(k, String(v));
    }
    if (resetPage && !('page' in patch)) next.delete('page');
    setParams(next, { replace: true });
  };

  const cancel = async (run: RunSummary) => {
    try {
      await runsApi.cancel(run.id);
      setActionError(undefined);
      runs.reload();
    } catch (e) {
      setActionError(e as Error);
    }
  };

  const select = (id: string, on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });

  return (
    <section aria-labelledby="runs-title">
      <div className="title-row">
        <h1 id="runs-title">Runs</h1>
        <LiveIndicator live={live} />
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Search <input type="search" value={qText} onChange={(e) => setQText(e.target.value)} placeholder="id, config hash, experiment" />
        </label>
        <label>
          Status
          <select value={filters.status} onChange={(e) => update({ status: e.target.value })}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Family
          <select value={filters.family} onChange={(e) => update({ family: e.target.value })}>
            <option value="">any</option>
            {FAMILIES.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
        <label>
          Kind
          <select value={filters.kind} onChange={(e) => update({ kind: e.target.value })}>
            <option value="">any</option>
            <option>BENCHMARK</option>
            <option>TRAINING</option>
          </select>
        </label>
        <label>
          Failure
          <select value={filters.failureClass} onChange={(e) => update({ failureClass: e.target.value })}>
            <option value="">any</option>
            {FAILURE_CLASSES.map((f) => (
              <option key={f}>{f}</option>
            ))}
          </select>
        </label>
        <label>
          Group by
          <select value={groupBy} onChange={(e) => update({ group: e.target.value }, false)}>
            <option value="none">nothing</option>
            <option value="family">family</option>
            <option value="status">status</option>
            <option value="failureClass">failure class</option>
            <option value="experiment">experiment</option>
          </select>
        </label>
        {filters.experimentId ? (
          <span className="chip">
            experiment {filters.experimentId.slice(0, 8)}{' '}
            <button type="button" onClick={() => update({ experimentId: '' })} aria-label="Clear experiment filter">
              ×
            </button>
          </span>
        ) : null}
      </form>
      <div className="row-actions">
        {/* No baseline: the compare view then uses the default it shares with the api (compare/baseline.ts), not the run ticked first. */}
        <Link className={`button${selected.size < 1 ? ' disabled' : ''}`} aria-disabled={selected.size < 1} to={selected.size < 1 ? '#' : `/compare?runs=${[...selected].join(',')}`}>
          Compare selected ({selected.size})
        </Link>
        {selected.size > 0 ? (
          <button type="button" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        ) : null}
      </div>
      <ErrorBanner error={runs.error} onRetry={runs.reload} />
      <ErrorBanner error={actionError} />
      {runs.data ? (
        runs.data.items.length === 0 ? (
          <Empty>No runs match these filters.</Empty>
        ) : (
          <>
            <RunsTable
              runs={runs.data.items}
              groupBy={groupBy}
              sort={sort}
              onSort={(s) => update({ sort: formatSort(s) })}
              selected={selected}
              onSelect={select}
              onCancel={cancel}
              caption="Runs"
              sweep={pageAxes(runs.data.items)}
            />
            <Pager page={runs.data.page} size={size} total={runs.data.total} onPage={(p) => update({ page: p }, false)} onSize={(s) => update({ size: s })} />
          </>
        )
      ) : runs.loading ? (
        <Loading what="runs" />
      ) : null}
    </section>
  );
}
