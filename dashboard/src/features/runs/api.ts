// Typed client of the runs resource: list, detail, metric series (downsampled by the server), cells, events.

import { endpoints, withQuery } from '../../shared/api/endpoints';
import { http } from '../../shared/api/http';
import { toList, toPage, type Page } from '../../shared/api/page';
import type { BenchmarkCell, MetricPoint, RunDetail, RunEventRow, RunSummary } from '../../shared/api/types';

export interface RunQuery {
  experimentId?: string;
  status?: string;
  family?: string;
  kind?: string;
  failureClass?: string;
  q?: string;
  page?: number;
  size?: number;
  sort?: string;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
}

/** One metric series in whatever envelope the api uses, as points sorted by step. */
export function toPoints(body: unknown): MetricPoint[] {
  const raw = toList<Record<string, unknown>>(body, 'points', 'values');
  const points: MetricPoint[] = [];
  for (const p of raw) {
    if (!p || typeof p !== 'object') continue;
    const step = num(p.step);
    const value = num(p.value);
    if (step === undefined || value === undefined) continue;
    points.push({ step, value, tokens: num(p.tokens), elapsedS: num(p.elapsedS ?? p.elapsedSeconds ?? p.elapsed_s ?? p.elapsed) });
  }
  return points.sort((a, b) => a.step - b.step);
}

/**
 * Several series in one answer: `{series: [{name, points}]}` (the api's shape), or a single series, keyed
 * by the name asked for.
 */
export function toSeries(body: unknown, asked: string[]): Record<string, MetricPoint[]> {
  const out: Record<string, MetricPoint[]> = {};
  const list = body && typeof body === 'object' && Array.isArray((body as { series?: unknown }).series) ? ((body as { series: unknown[] }).series as Record<string, unknown>[]) : undefined;
  if (list) {
    for (const s of list) if (s && typeof s.name === 'string') out[s.name] = toPoints(s.points ?? s);
    return out;
  }
  if (asked.length === 1) out[asked[0]] = toPoints(body);
  return out;
}

/**
 * A run as the dashboard reads it. The api nests the failure (`failure: {failureClass, message}`) and lists
 * metric series as `metrics: [{name, points, ...}]`; both become flat fields here.
 */
export function toRun<T extends RunSummary>(raw: unknown): T {
  const r = { ...(raw as Record<string, unknown>) };
  const failure = r.failure as { failureClass?: string; message?: string } | undefined;
  if (failure && typeof failure === 'object') {
    r.failureClass ??= failure.failureClass;
    r.failureMessage ??= failure.message;
  }
  if (!Array.isArray(r.metricNames) && Array.isArray(r.metrics)) r.metricNames = (r.metrics as { name?: string }[]).map((m) => m?.name).filter(Boolean);
  if (r.seed === undefined && r.spec && typeof r.spec === 'object') r.seed = (r.spec as { seed?: number }).seed;
  return r as unknown as T;
}

export const runsApi = {
  list: async (query: RunQuery, signal?: AbortSignal): Promise<Page<RunSummary>> => {
    const page = toPage<RunSummary>(await http.get(withQuery(endpoints.runs, { ...query }), signal), query.size);
    return { ...page, items: page.items.map((r) => toRun<RunSummary>(r)) };
  },
  get: async (id: string, signal?: AbortSignal) => toRun<RunDetail>(await http.get(endpoints.run(id), signal)),
  /** Several series of a run in one request, each downsampled by the server to at most maxPoints. */
  series: async (id: string, names: string[], opts: { fromStep?: number; maxPoints?: number } = {}, signal?: AbortSignal) =>
    toSeries(await http.get(withQuery(endpoints.runMetrics(id), { name: names, fromStep: opts.fromStep, maxPoints: opts.maxPoints ?? 1000 }), signal), names),
  metrics: async (id: string, name: string, opts: { fromStep?: number; maxPoints?: number } = {}, signal?: AbortSignal) =>
    (await runsApi.series(id, [name], opts, signal))[name] ?? [],
  cells: async (id: string, signal?: AbortSignal) => toList<BenchmarkCell>(await http.get(endpoints.runCells(id), signal), 'cells'),
  events: async (id: string, signal?: AbortSignal) => toList<RunEventRow>(await http.get(withQuery(endpoints.runEvents(id), { size: 1000 }), signal), 'events'),
  cancel: (id: string) => http.post<unknown>(endpoints.runCancel(id)),
};
