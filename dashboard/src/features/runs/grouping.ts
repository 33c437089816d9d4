// Aim-style grouping of the visible page of runs (the server pages; grouping arranges what is shown).

import type { RunSummary } from '../../shared/api/types';

export type GroupBy = 'none' | 'family' | 'status' | 'failureClass' | 'experiment';

export interface RunGroup {
  key: string;
  runs: RunSummary[];
  counts: Record<string, number>;
}

function keyOf(run: RunSummary, by: GroupBy): string {
  switch (by) {
    case 'family':
      return run.family ?? 'unknown';
    case 'status':
      return run.status ?? 'unknown';
    case 'failureClass':
      return run.failureClass ?? 'no failure';
    case 'experiment':
      return run.experimentName ?? run.experimentId ?? 'unknown';
    default:
      return 'all';
  }
}

/** Groups in order of first appearance, so the server's sort order survives inside and across groups. */
export function groupRuns(runs: RunSummary[], by: GroupBy): RunGroup[] {
  const groups = new Map<string, RunGroup>();
  for (const run of runs) {
    const key = keyOf(run, by);
    let g = groups.get(key);
    if (!g) {
      g = { key, runs: [], counts: {} };
      groups.set(key, g);
    }
    g.runs.push(run);
    g.counts[run.status] = (g.counts[run.status] ?? 0) + 1;
  }
  return [...groups.values()];
}
