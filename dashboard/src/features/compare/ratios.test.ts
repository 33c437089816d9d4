import { describe, expect, it } from 'vitest';
import type { BenchmarkCell } from '../../shared/api/types';
import { cellRatios, seqLenSeries, trainingRatios, type RunCells } from './ratios';

const cell = (seqLen: number, p50Ms: number, tflops: number, phase = 'FORWARD'): BenchmarkCell => ({ phase, scope: 'LAYER', causal: true, batch: 1, seqLen, dtype: 'bf16', p50Ms, tflops });

// A sweep: one run per (variant, seqLen), as the api expands variants x grid.
const runs: RunCells[] = [
  { runId: 'mha-1k', label: 'MHA', variantKey: 'mha', cells: [cell(1024, 2, 100)] },
  { runId: 'mha-2k', label: 'MHA', variantKey: 'mha', cells: [cell(2048, 8, 110)] },
  { runId: 'cca-1k', label: 'CCA', variantKey: 'cca', cells: [cell(1024, 1, 60)] },
  { runId: 'cca-2k', label: 'CCA', variantKey: 'cca', cells: [cell(2048, 2, 90), cell(2048, 3, 10, 'DECODE')] },
];

describe('cellRatios', () => {
  it('matches each cell with the baseline variant cell of the same shape, whichever run holds it', () => {
    const rows = cellRatios(runs, 'mha-1k');
    const cca2k = rows.find((r) => r.runId === 'cca-2k' && r.cell.phase === 'FORWARD')!;
    expect(cca2k.baseline?.p50Ms).toBe(8);
    expect(cca2k.speedup).toBe(4);
    expect(cca2k.tflopsRatio).toBeCloseTo(90 / 110, 12);
    expect(cca2k.isBaseline).toBe(false);
    const mha2k = rows.find((r) => r.runId === 'mha-2k')!;
    expect(mha2k.speedup).toBe(1);
    expect(mha2k.isBaseline).toBe(true);
  });

  it('leaves a ratio empty where the baseline lacks the cell', () => {
    const decode = cellRatios(runs, 'mha-1k').find((r) => r.cell.phase === 'DECODE')!;
    expect(decode.baseline).toBeUndefined();
    expect(decode.speedup).toBeUndefined();
  });

  it('has no ratios without a baseline', () => {
    expect(cellRatios(runs, 'missing').every((r) => r.speedup === undefined)).toBe(true);
  });
});

describe('seqLenSeries', () => {
  it('draws one series per variant across its runs, sorted by length', () => {
    const s = seqLenSeries(runs, 'FORWARD', 'LAYER', 'p50Ms');
    expect(s.map((x) => x.label)).toEqual(['MHA', 'CCA']);
    expect(s[1].points).toEqual([
      { x: 1024, y: 1 },
      { x: 2048, y: 2 },
    ]);
    expect(seqLenSeries(runs, 'DECODE', 'LAYER', 'tflops').map((x) => x.label)).toEqual(['CCA']);
  });
});

describe('trainingRatios', () => {
  it('divides by the mean over the baseline variant seeds', () => {
    const rows = trainingRatios(
      [
        { runId: 'm1', label: 'MHA', variantKey: 'mha', finalTrainLoss: 2.0, minValLoss: 2.2 },
        { runId: 'm2', label: 'MHA', variantKey: 'mha', finalTrainLoss: 3.0, minValLoss: 1.8 },
        { runId: 'c1', label: 'CCA', variantKey: 'cca', finalTrainLoss: 2.25, minValLoss: undefined },
      ],
      'm2',
    );
    expect(rows[2].trainLossRatio).toBeCloseTo(0.9, 12);
    expect(rows[2].valLossRatio).toBeUndefined();
    expect(rows[0].valLossRatio).toBeCloseTo(1.1, 12);
    expect(rows.map((r) => r.isBaseline)).toEqual([true, true, false]);
  });
});
