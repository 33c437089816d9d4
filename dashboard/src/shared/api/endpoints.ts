// The one map of the api's paths (docs/contracts.md, REST). Feature clients build URLs only from here,
// so a path change is a one-line edit.

export type Query = Record<string, string | number | boolean | undefined | null | readonly string[]>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) {
      if (value.length > 0) params.set(key, value.join(','));
    } else {
      params.set(key, String(value));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

const id = (v: string) => encodeURIComponent(v);

export const endpoints = {
  experiments: '/api/experiments',
  experiment: (experimentId: string) => `/api/experiments/${id(experimentId)}`,
  experimentCancel: (experimentId: string) => `/api/experiments/${id(experimentId)}/cancel`,
  experimentRerunFailed: (experimentId: string) => `/api/experiments/${id(experimentId)}/rerun-failed`,
  runs: '/api/runs',
  run: (runId: string) => `/api/runs/${id(runId)}`,
  runMetrics: (runId: string) => `/api/runs/${id(runId)}/metrics`,
  runCells: (runId: string) => `/api/runs/${id(runId)}/cells`,
  runEvents: (runId: string) => `/api/runs/${id(runId)}/events`,
  runCancel: (runId: string) => `/api/runs/${id(runId)}/cancel`,
  variants: '/api/variants',
  variantCost: '/api/variants/cost',
  compare: '/api/compare',
  queue: '/api/queue',
  workers: '/api/workers',
  deadLetters: '/api/dead-letters',
  liveRun: (runId: string) => `/api/live/runs/${id(runId)}`,
  liveQueue: '/api/live/queue',
} as const;
