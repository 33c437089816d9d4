// What tells the runs of a sweep apart: the variant (when the experiment has several) and the value of each
// grid key that takes more than one value. The experiment page shows them as columns of its run table.

import type { Experiment, RunSummary } from '../../shared/api/types';
import { variantKey, variantLabel } from '../compare/variantLabel';

export interface SweepAxes {
  /** More than one variant: each run's variant gets a column. */
  variant: boolean;
  /** Grid keys with more than one value, in the submission's order. */
  keys: string[];
}

/**
 * The axes of an experiment's sweep. The submission says what was swept across all runs, not just the page
 * shown; without it (still loading), whatever differs among the runs at hand.
 */
export function sweepAxes(experiment: Experiment | undefined, runs: RunSummary[]): SweepAxes {
  const request = experiment?.request;
  if (request) {
    const grid = request.grid ?? {};
    return {
      variant: (request.variants?.length ?? 0) > 1,
      keys: Object.keys(grid).filter((k) => Array.isArray(grid[k]) && grid[k].length > 1),
    };
  }
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.grid ?? {})))];
  return {
    variant: new Set(runs.map((r) => variantKey(r.variant))).size > 1,
    keys: keys.filter((k) => new Set(runs.map((r) => JSON.stringify(gridValue(r, k)))).size > 1),
  };
}

/** A run's value of a grid key: the api's `grid`, else read from its spec where the sweep put it. */
export function gridValue(run: RunSummary, key: string): unknown {
  if (run.grid && key in run.grid) return run.grid[key];
  if (key === 'seed') return run.spec?.seed ?? run.seed;
  const base = (run.spec?.benchmark ?? run.spec?.training) as Record<string, unknown> | null | undefined;
  return base?.[key];
}

export function formatGridValue(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (Array.isArray(value)) return value.map(formatGridValue).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Each run's variant label; where two different variants of the sweep share a label (a parameter the label
 * leaves out differs), each gets its position among the distinct variants of these runs, so the rows still differ.
 */
export function variantLabels(runs: RunSummary[]): Map<string, string> {
  const keys = [...new Set(runs.map((r) => variantKey(r.variant)))];
  const labelOf = new Map(runs.map((r) => [variantKey(r.variant), variantLabel(r.variant)]));
  const uses = new Map<string, number>();
  for (const k of keys) uses.set(labelOf.get(k)!, (uses.get(labelOf.get(k)!) ?? 0) + 1);
  const out = new Map<string, string>();
  for (const r of runs) {
    const k = variantKey(r.variant);
    const label = labelOf.get(k)!;
    out.set(r.id, uses.get(label)! > 1 ? `${label} (#${keys.indexOf(k) + 1})` : label);
  }
  return out;
}
