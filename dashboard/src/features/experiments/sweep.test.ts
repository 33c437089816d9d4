import { describe, expect, it } from 'vitest';
import type { Experiment, RunSummary } from '../../shared/api/types';
import { formatGridValue, gridValue, sweepAxes, variantLabels } from './sweep';

const mla = (ropeHeadDim: number) => ({ family: 'mla' as const, dModel: 64, nHeads: 2, kvLoraRank: 16, ropeHeadDim });
const run = (id: string, variant: RunSummary['variant'], seqLen: number, seed: number, grid?: Record<string, unknown>): RunSummary => ({
  id,
  kind: 'BENCHMARK',
  family: variant!.family,
  status: 'SUCCEEDED',
  variant,
  spec: { kind: 'BENCHMARK', variant: variant!, seed, benchmark: { seqLen, batch: 1, phases: ['FORWARD', 'DECODE'] } },
  grid,
});

describe('sweepAxes', () => {
  it('takes the swept keys with more than one value from the submission, in its order', () => {
    const experiment = { id: 'e', name: 'e', kind: 'BENCHMARK', status: 'QUEUED', request: { name: 'e', kind: 'BENCHMARK', variants: [mla(8)], grid: { seed: [1, 2], batch: [1], seqLen: [64, 128] } } } as Experiment;
    expect(sweepAxes(experiment, [])).toEqual({ variant: false, keys: ['seed', 'seqLen'] });
  });

  it('without the submission, keeps what differs among the runs at hand', () => {
    const runs = [run('a', mla(8), 64, 1, { seqLen: 64, batch: 1 }), run('b', mla(16), 128, 1, { seqLen: 128, batch: 1 })];
    expect(sweepAxes(undefined, runs)).toEqual({ variant: true, keys: ['seqLen'] });
  });
});

describe('gridValue', () => {
  it("reads the api's grid, else the spec where the sweep put the value", () => {
    const r = run('a', mla(8), 64, 3);
    expect(gridValue({ ...r, grid: { seqLen: 99 } }, 'seqLen')).toBe(99);
    expect(gridValue(r, 'seqLen')).toBe(64);
    expect(gridValue(r, 'seed')).toBe(3);
    expect(formatGridValue(gridValue(r, 'phases'))).toBe('FORWARD, DECODE');
    expect(formatGridValue(gridValue(r, 'dtype'))).toBe('—');
  });
});

describe('variantLabels', () => {
  it('numbers variants whose short labels collide, so rows still differ', () => {
    const labels = variantLabels([run('a', mla(8), 64, 1), run('b', mla(16), 64, 1), run('c', mla(8), 128, 1)]);
    expect(labels.get('a')).toBe(labels.get('c'));
    expect(labels.get('a')).not.toBe(labels.get('b'));
    expect(labels.get('b')).toMatch(/^MLA E64 2h r16 \(#2\)$/);
  });
});
