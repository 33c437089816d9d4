// The compare view's whole state lives in the URL query, so a link reproduces the view exactly:
// /compare?runs=a,b&baseline=a&metric=train/loss&x=tokens&smooth=0.6&phase=FORWARD&scope=LAYER&pareto=flops

export type XAxis = 'step' | 'tokens' | 'time';
export type ParetoX = 'kv' | 'flops';

export interface CompareState {
  runs: string[];
  experiments: string[];
  baseline?: string;
  metric: string;
  x: XAxis;
  /** EMA weight in [0, 0.99]; 0 shows the raw series. */
  smooth: number;
  phase: string;
  scope: string;
  pareto: ParetoX;
  logY: boolean;
  /** 'mean': one curve per variant, the mean over its seeds with their range shaded. */
  seeds: 'each' | 'mean';
}

export const DEFAULT_STATE: CompareState = {
  runs: [],
  experiments: [],
  metric: 'train/loss',
  x: 'step',
  smooth: 0.6,
  phase: 'FORWARD',
  scope: 'LAYER',
  pareto: 'kv',
  logY: false,
  seeds: 'each',
};

const ids = (v: string | null) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function parseCompare(query: URLSearchParams | string): CompareState {
  const p = typeof query === 'string' ? new URLSearchParams(query.startsWith('?') ? query.slice(1) : query) : query;
  const smooth = Number(p.get('smooth'));
  const x = p.get('x');
  const pareto = p.get('pareto');
  return {
    runs: [...new Set(ids(p.get('runs')))],
    experiments: [...new Set(ids(p.get('experiments')))],
    baseline: p.get('baseline') || undefined,
    metric: p.get('metric') || DEFAULT_STATE.metric,
    x: x === 'tokens' || x === 'time' ? x : 'step',
    smooth: p.has('smooth') && Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : DEFAULT_STATE.smooth,
    phase: p.get('phase') || DEFAULT_STATE.phase,
    scope: p.get('scope') || DEFAULT_STATE.scope,
    pareto: pareto === 'flops' ? 'flops' : 'kv',
    logY: p.get('logY') === '1',
    seeds: p.get('seeds') === 'mean' ? 'mean' : 'each',
  };
}

/** Writes only what differs from the defaults, keeping links short; ids stay readable (no %2C). */
export function serializeCompare(s: CompareState): string {
  const parts: string[] = [];
  const put = (k: string, v: string) => parts.push(`${k}=${encodeURIComponent(v).replace(/%2C/g, ',').replace(/%2F/g, '/')}`);
  if (s.runs.length) put('runs', s.runs.join(','));
  if (s.experiments.length) put('experiments', s.experiments.join(','));
  if (s.baseline) put('baseline', s.baseline);
  if (s.metric !== DEFAULT_STATE.metric) put('metric', s.metric);
  if (s.x !== DEFAULT_STATE.x) put('x', s.x);
  if (s.smooth !== DEFAULT_STATE.smooth) put('smooth', String(s.smooth));
  if (s.phase !== DEFAULT_STATE.phase) put('phase', s.phase);
  if (s.scope !== DEFAULT_STATE.scope) put('scope', s.scope);
  if (s.pareto !== DEFAULT_STATE.pareto) put('pareto', s.pareto);
  if (s.logY) put('logY', '1');
  if (s.seeds !== DEFAULT_STATE.seeds) put('seeds', s.seeds);
  return parts.join('&');
}
