// Ratios to the baseline. The baseline is a variant (the baseline run's config): a benchmark sweep has one
// run per sequence length, so each cell is matched with the baseline variant's cell of the same
// (phase, scope, causal, batch, seqLen, dtype), whichever run measured it.

import type { BenchmarkCell } from '../../shared/api/types';
import { cellKey, phaseRank, scopeRank } from '../runs/CellsTable';

export interface RunCells {
  runId: string;
  label: string;
  variantKey: string;
  cells: BenchmarkCell[];
}

export interface CellRatio {
  runId: string;
  label: string;
  key: string;
  cell: BenchmarkCell;
  baseline?: BenchmarkCell;
  /** baseline p50 / this p50: above 1 means faster than the baseline. */
  speedup?: number;
  /** this TFLOP/s / baseline TFLOP/s. */
  tflopsRatio?: number;
  isBaseline: boolean;
}

function ratio(num: number | undefined, den: number | undefined): number | undefined {
  if (num === undefined || den === undefined || !Number.isFinite(num) || !Number.isFinite(den) || den === 0) return undefined;
  return num / den;
}

export function cellRatios(runs: RunCells[], baselineRunId: string | undefined): CellRatio[] {
  const baseRun = runs.find((r) => r.runId === baselineRunId);
  const baseCells = new Map<string, BenchmarkCell>();
  if (baseRun) {
    for (const r of runs) if (r.variantKey === baseRun.variantKey) for (const c of r.cells) if (!baseCells.has(cellKey(c))) baseCells.set(cellKey(c), c);
  }
  const rows: CellRatio[] = [];
  for (const r of runs) {
    const isBaseline = !!baseRun && r.variantKey === baseRun.variantKey;
    for (const c of r.cells) {
      const key = cellKey(c);
      const b = baseCells.get(key);
      rows.push({ runId: r.runId, label: r.label, key, cell: c, baseline: b, speedup: ratio(b?.p50Ms, c.p50Ms), tflopsRatio: ratio(c.tflops, b?.tflops), isBaseline });
    }
  }
  return rows.sort((a, b) => phaseRank(a.cell.phase) - phaseRank(b.cell.phase) || scopeRank(a.cell.scope) - scopeRank(b.cell.scope) || a.cell.seqLen - b.cell.seqLen || a.label.localeCompare(b.label));
}

export interface TrainingSummary {
  runId: string;
  label: string;
  variantKey: string;
  finalTrainLoss?: number;
  minValLoss?: number;
}

export interface TrainingRatio extends TrainingSummary {
  /** this / baseline variant's mean; below 1 is better for a loss. */
  trainLossRatio?: number;
  valLossRatio?: number;
  isBaseline: boolean;
}

function mean(xs: (number | undefined)[]): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : undefined;
}

/** Losses against the mean over the baseline variant's runs (its seeds). */
export function trainingRatios(runs: TrainingSummary[], baselineRunId: string | undefined): TrainingRatio[] {
  const baseRun = runs.find((r) => r.runId === baselineRunId);
  const group = baseRun ? runs.filter((r) => r.variantKey === baseRun.variantKey) : [];
  const baseTrain = mean(group.map((r) => r.finalTrainLoss));
  const baseVal = mean(group.map((r) => r.minValLoss));
  return runs.map((r) => ({
    ...r,
    trainLossRatio: ratio(r.finalTrainLoss, baseTrain),
    valLossRatio: ratio(r.minValLoss, baseVal),
    isBaseline: !!baseRun && r.variantKey === baseRun.variantKey,
  }));
}

/** Latency (p50 ms) or TFLOP/s against sequence length: one series per variant, for one phase and scope. */
export function seqLenSeries(runs: RunCells[], phase: string, scope: string, value: 'p50Ms' | 'tflops'): { label: string; variantKey: string; points: { x: number; y: number }[] }[] {
  const byVariant = new Map<string, { label: string; acc: Map<number, number[]> }>();
  for (const r of runs) {
    let entry = byVariant.get(r.variantKey);
    if (!entry) {
      entry = { label: r.label, acc: new Map() };
      byVariant.set(r.variantKey, entry);
    }
    for (const c of r.cells) {
      if (c.phase !== phase || c.scope !== scope) continue;
      const y = c[value];
      if (y === undefined || !Number.isFinite(y)) continue;
      const list = entry.acc.get(c.seqLen) ?? [];
      list.push(y);
      entry.acc.set(c.seqLen, list);
    }
  }
  return [...byVariant.entries()]
    .map(([variantKey, e]) => ({
      label: e.label,
      variantKey,
      points: [...e.acc.entries()].sort((a, b) => a[0] - b[0]).map(([x, ys]) => ({ x, y: ys.reduce((s, v) => s + v, 0) / ys.length })),
    }))
    .filter((s) => s.points.length > 0);
}
