// Loads what the compare view draws: the runs (named directly or through their experiments), their cells,
// their metric series (downsampled by the server) and the cost model of each distinct variant.

import { endpoints, withQuery } from '../../shared/api/endpoints';
import { ApiError, http } from '../../shared/api/http';
import type { BenchmarkCell, CostEstimate, MetricPoint, RunDetail } from '../../shared/api/types';
import { experimentsApi } from '../experiments/api';
import { runsApi, toRun } from '../runs/api';
import { swaLayers } from './pareto';
import { variantKey, variantLabel } from './variantLabel';

/**
 * Runs read one by one (named runs, or experiments when the api has no bulk comparison): beyond this the
 * view asks the user to narrow the selection. Through GET /api/compare an experiment of up to
 * MAX_BULK_RUNS runs arrives in one request, cells included.
 */
export const MAX_COMPARE_RUNS = 120;
export const MAX_BULK_RUNS = 2000;
/** Curves drawn at most; more runs still appear in the tables and the Pareto plot. */
export const MAX_CURVES = 200;
const CONCURRENCY = 12;

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

export interface ComparedRun {
  run: RunDetail;
  label: string;
  variantKey: string;
  cells: BenchmarkCell[];
  cost?: CostEstimate;
  /** A training run of an SWA/OVQ hybrid: the cost of its SWA layers' MHA at the same S (pareto.ts). */
  swaCost?: CostEstimate;
  /**
   * KV-cache bytes per token by dtype from the cost model, for this run's cells that do not carry their own
   * kvBytesPerToken (the bulk comparison's cells carry none).
   */
  kvModel?: Record<string, number>;
}

/** The per-token KV cache of a cell: its own figure, else the cost model's for its variant and dtype. */
export function cellKvBytes(run: ComparedRun | undefined, cell: BenchmarkCell): { bytes?: number; modelled: boolean } {
  if (typeof cell.kvBytesPerToken === 'number') return { bytes: cell.kvBytesPerToken, modelled: false };
  const m = run?.kvModel?.[cell.dtype ?? ''];
  return typeof m === 'number' ? { bytes: m, modelled: true } : { modelled: false };
}

export interface CompareData {
  runs: ComparedRun[];
  truncated: number;
  metricNames: string[];
  /** Directions GET /api/compare declared, by metric (HIGHER_IS_BETTER / LOWER_IS_BETTER). */
  directions: Record<string, string>;
  /** Named runs the api refused (unknown, malformed id): the rest is compared without them. */
  failed: { id: string; message: string }[];
}

/** Ids the api gives runs and experiments. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the api said about one id, in one line: its title, detail and field errors. */
export function problemText(e: unknown): string {
  if (e instanceof ApiError) {
    const p = e.problem;
    const parts = [p.title, p.detail && p.detail !== p.title ? p.detail : undefined, ...(p.errors ?? []).map((x) => (x.field ? `${x.field}: ${x.message}` : x.message))].filter(Boolean);
    return `${parts.join(' — ') || e.message}${p.status ? ` (HTTP ${p.status})` : ''}`;
  }
  return e instanceof Error ? e.message : String(e);
}

interface ServerComparison {
  metric?: string;
  direction?: string;
  runs: {
    runId: string;
    experimentId?: string;
    experimentName?: string;
    ordinal?: number;
    kind: 'BENCHMARK' | 'TRAINING';
    family: string;
    status: string;
    variant: RunDetail['spec']['variant'];
    spec: RunDetail['spec'];
    cells?: BenchmarkCell[];
    /** The series the run records, where the api lists them (as names, or as the run detail's metrics). */
    metricNames?: string[];
    metrics?: { name?: string }[];
  }[];
}

/**
 * Every run of one experiment with all its cells, in one request: compared against itself, each cell of
 * the experiment matches its own key, so GET /api/compare returns them all (p50 and TFLOP/s, which is
 * what the view draws). Undefined when the api cannot (no such endpoint, or too many runs).
 */
async function experimentInBulk(
  experimentId: string,
  signal?: AbortSignal,
  directions?: Record<string, string>,
): Promise<{ run: RunDetail; cells: BenchmarkCell[] }[] | undefined> {
  try {
    const body = await http.get<ServerComparison>(withQuery(endpoints.compare, { experiments: experimentId, baseline: experimentId }), signal);
    if (!body || !Array.isArray(body.runs)) return undefined;
    if (directions && typeof body.metric === 'string' && typeof body.direction === 'string') directions[body.metric] = body.direction;
    return body.runs.map((r) => ({
      run: toRun<RunDetail>({ id: r.runId, experimentId: r.experimentId, experimentName: r.experimentName, ordinal: r.ordinal, kind: r.kind, family: r.family, status: r.status, variant: r.variant, spec: r.spec, metricNames: r.metricNames, metrics: r.metrics }),
      cells: (r.cells ?? []).map((c) => ({ ...c })),
    }));
  } catch (e) {
    if (e instanceof ApiError && e.problem.status >= 400 && e.problem.status < 500) return undefined;
    throw e;
  }
}

function costSeqLen(run: RunDetail): number {
  return run.spec?.training?.seqLen ?? run.spec?.benchmark?.seqLen ?? 1024;
}

export async function loadCompare(runIds: string[], experimentIds: string[], signal?: AbortSignal): Promise<CompareData> {
  const bulkCells = new Map<string, BenchmarkCell[]>();
  const listed: RunDetail[] = [];
  let cap = MAX_COMPARE_RUNS;
  const directions: Record<string, string> = {};
  for (const exp of experimentIds) {
    const bulk = await experimentInBulk(exp, signal, directions);
    if (bulk) {
      cap = MAX_BULK_RUNS;
      for (const b of bulk) {
        listed.push(b.run);
        bulkCells.set(b.run.id, b.cells);
      }
    } else {
      // The list endpoint carries each run's variant and spec; cells then come run by run.
      const page = await runsApi.list({ experimentId: exp, size: MAX_COMPARE_RUNS, sort: 'ordinal,asc' }, signal);
      listed.push(...(page.items as RunDetail[]));
    }
  }
  const unique = [...new Set([...runIds, ...listed.map((r) => r.id)])];
  // Runs read one by one count against the smaller cap, whatever the bulk path brought.
  const oneByOne = unique.filter((id) => !bulkCells.has(id));
  const allowedOneByOne = new Set(oneByOne.slice(0, MAX_COMPARE_RUNS));
  const chosen = unique.filter((id) => bulkCells.has(id) || allowedOneByOne.has(id)).slice(0, cap);
  const byId = new Map(listed.filter((r) => r.spec).map((r) => [r.id, r]));
  // A named run the api refuses (4xx) is left out and reported; any other error fails the whole load.
  const failed: { id: string; message: string }[] = [];
  const loaded = await mapLimit(chosen, CONCURRENCY, (id) =>
    byId.has(id)
      ? Promise.resolve(byId.get(id)!)
      : runsApi.get(id, signal).catch((e: unknown) => {
          if (e instanceof ApiError && e.problem.status >= 400 && e.problem.status < 500) {
            failed.push({ id, message: problemText(e) });
            return undefined;
          }
          throw e;
        }),
  );
  const details = loaded.filter((r): r is RunDetail => r !== undefined);
  const cells = await mapLimit(details, CONCURRENCY, (r) =>
    bulkCells.has(r.id) ? Promise.resolve(bulkCells.get(r.id)!) : r.kind === 'BENCHMARK' ? runsApi.cells(r.id, signal).catch(() => []) : Promise.resolve([]),
  );
  // One cost request per distinct (variant, S): a sweep of many seeds shares them.
  const costKeys = new Map<string, { variant: RunDetail['spec']['variant']; seqLen: number }>();
  for (const r of details) if (r.spec?.variant) costKeys.set(`${variantKey(r.spec.variant)}@${costSeqLen(r)}`, { variant: r.spec.variant, seqLen: costSeqLen(r) });
  const swaVariant = (r: RunDetail): RunDetail['spec']['variant'] | undefined =>
    swaLayers(r.spec?.variant, r.spec?.training?.nLayers).layers > 0 ? { family: 'mha', dModel: r.spec.variant.dModel, nHeads: r.spec.variant.nHeads } : undefined;
  for (const r of details) {
    const swa = swaVariant(r);
    if (swa) costKeys.set(`${variantKey(swa)}@${costSeqLen(r)}`, { variant: swa, seqLen: costSeqLen(r) });
  }
  const costs = new Map<string, CostEstimate>();
  await mapLimit([...costKeys.entries()], CONCURRENCY, async ([k, v]) => {
    try {
      costs.set(k, await experimentsApi.cost(v.variant, v.seqLen, undefined, signal));
    } catch {
      // A variant the cost model refuses is still compared; it only leaves the Pareto plot.
    }
  });
  // Runs from the bulk comparison or the list endpoint carry no series names: read them from each training
  // run's detail (only for the runs whose curves are drawn, as loadSeries does), so both ways in offer every
  // metric the runs recorded.
  const unnamed = details.filter((r) => r.kind === 'TRAINING' && !Array.isArray(r.metricNames)).slice(0, MAX_CURVES);
  const namesById = new Map<string, string[]>();
  await mapLimit(unnamed, CONCURRENCY, async (r) => {
    try {
      const d = await runsApi.get(r.id, signal);
      if (Array.isArray(d.metricNames)) namesById.set(r.id, d.metricNames);
    } catch (e) {
      if (signal?.aborted) throw e;
      // A run whose detail cannot be read keeps no names: its series are still asked for by the names wanted.
    }
  });
  for (let i = 0; i < details.length; i++) {
    const names = namesById.get(details[i].id);
    if (names) details[i] = { ...details[i], metricNames: names };
  }
  // Cells without their own KV figure: the cost model's, once per (variant, dtype).
  const kvKeys = new Map<string, { variant: RunDetail['spec']['variant']; seqLen: number; dtype: string }>();
  details.forEach((r, i) => {
    if (!r.spec?.variant) return;
    for (const c of cells[i]) if (typeof c.kvBytesPerToken !== 'number' && c.dtype) kvKeys.set(`${variantKey(r.spec.variant)}|${c.dtype}`, { variant: r.spec.variant, seqLen: costSeqLen(r), dtype: c.dtype });
  });
  const kvModel = new Map<string, number>();
  await mapLimit([...kvKeys.entries()], CONCURRENCY, async ([k, v]) => {
    try {
      const c = (await experimentsApi.cost(v.variant, v.seqLen, v.dtype, signal)) as CostEstimate & { kvCacheBytesPerToken?: number };
      const perToken = c.kvCacheBytesPerToken ?? c.kvBytesPerToken;
      if (typeof perToken === 'number') kvModel.set(k, perToken);
    } catch {
      // Left blank: the cost model refuses the variant or the dtype.
    }
  });
  const kvModelOf = (r: RunDetail): Record<string, number> | undefined => {
    if (!r.spec?.variant) return undefined;
    const prefix = `${variantKey(r.spec.variant)}|`;
    const out: Record<string, number> = {};
    for (const [k, v] of kvModel) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const metricNames = [...new Set(details.flatMap((r) => r.metricNames ?? []))].sort();
  return {
    runs: details.map((run, i) => ({
      run,
      label: variantLabel(run.spec?.variant),
      variantKey: variantKey(run.spec?.variant),
      cells: cells[i],
      cost: run.spec?.variant ? costs.get(`${variantKey(run.spec.variant)}@${costSeqLen(run)}`) : undefined,
      swaCost: swaVariant(run) ? costs.get(`${variantKey(swaVariant(run))}@${costSeqLen(run)}`) : undefined,
      kvModel: kvModelOf(run),
    })),
    truncated: unique.length - chosen.length,
    metricNames,
    directions,
    failed: failed.sort((a, b) => chosen.indexOf(a.id) - chosen.indexOf(b.id)),
  };
}

/** Series of the training runs for the chosen metric plus the losses the summaries need. */
export async function loadSeries(runs: ComparedRun[], metric: string, signal?: AbortSignal): Promise<Record<string, Record<string, MetricPoint[]>>> {
  const training = runs.filter((r) => r.run.kind === 'TRAINING').slice(0, MAX_CURVES);
  const names = [...new Set([metric, 'train/loss', 'val/loss'])];
  const out: Record<string, Record<string, MetricPoint[]>> = {};
  await mapLimit(training, CONCURRENCY, async (r) => {
    const available = r.run.metricNames;
    const wanted = available && available.length > 0 ? names.filter((n) => available.includes(n)) : names;
    out[r.run.id] = wanted.length > 0 ? await runsApi.series(r.run.id, wanted, { maxPoints: 600 }, signal).catch(() => ({})) : {};
  });
  return out;
}
