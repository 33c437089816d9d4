import { describe, expect, it } from 'vitest';
import { diffConfigs } from './configDiff';

describe('diffConfigs', () => {
  it('keeps only the keys whose values differ', () => {
    const d = diffConfigs([
      { id: 'a', config: { kind: 'TRAINING', seed: 1, variant: { family: 'mha', dModel: 256, nHeads: 4 }, training: { steps: 100 } } },
      { id: 'b', config: { kind: 'TRAINING', seed: 2, variant: { family: 'gqa', dModel: 256, nHeads: 4, nKvHeads: 2 }, training: { steps: 100 } } },
    ]);
    expect(d.keys).toEqual(['seed', 'variant.family', 'variant.nKvHeads']);
    expect(d.values.a).toEqual({ seed: '1', 'variant.family': 'mha', 'variant.nKvHeads': '—' });
    expect(d.values.b['variant.nKvHeads']).toBe('2');
  });

  it('is empty for identical configs', () => {
    const c = { kind: 'BENCHMARK', benchmark: { phases: ['FORWARD'] } };
    expect(diffConfigs([
      { id: 'a', config: c },
      { id: 'b', config: structuredClone(c) },
    ]).keys).toEqual([]);
  });

  it('leaves out the keys empty for every run, as the other kind\'s section when kinds mix', () => {
    const d = diffConfigs([
      { id: 't', config: { kind: 'TRAINING', variant: { family: 'mha' }, training: { steps: 3 }, benchmark: null } },
      { id: 'b', config: { kind: 'BENCHMARK', variant: { family: 'mha' }, benchmark: { seqLen: 32 }, training: null } },
    ]);
    expect(d.keys).toEqual(['benchmark.seqLen', 'kind', 'training.steps']);
    expect(d.values.t['benchmark.seqLen']).toBe('—');
    expect(d.values.b['training.steps']).toBe('—');
  });
});
