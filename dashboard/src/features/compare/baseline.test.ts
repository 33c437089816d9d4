import { describe, expect, it } from 'vitest';
import { defaultBaseline } from './baseline';

// The example of the api's DefaultBaselineTest (same runs, same order, same expected picks): the two sides
// choose the same default baseline and must not drift apart.
const run = (id: string, kind: 'BENCHMARK' | 'TRAINING', family: string) => ({ id, run: { kind, family } });
const benchGqa = run('bench-gqa', 'BENCHMARK', 'gqa');
const benchMha = run('bench-mha', 'BENCHMARK', 'mha');
const trainCca = run('train-cca', 'TRAINING', 'cca');
const trainMha = run('train-mha', 'TRAINING', 'mha');
const benchMha2 = run('bench-mha-2', 'BENCHMARK', 'mha');
const example = [benchGqa, benchMha, trainCca, trainMha, benchMha2];

describe('defaultBaseline', () => {
  it('picks the first MHA run of each kind in the order listed', () => {
    expect(defaultBaseline(example, 'BENCHMARK')?.id).toBe('bench-mha');
    expect(defaultBaseline(example, 'TRAINING')?.id).toBe('train-mha');
  });

  it('falls back to the first run of a kind without MHA', () => {
    const noMha = [benchGqa, trainCca, run('bench-cca', 'BENCHMARK', 'cca')];
    expect(defaultBaseline(noMha, 'BENCHMARK')?.id).toBe('bench-gqa');
    expect(defaultBaseline(noMha, 'TRAINING')?.id).toBe('train-cca');
  });

  it('follows the order of the runs as listed', () => {
    expect(defaultBaseline([benchMha2, benchGqa, benchMha], 'BENCHMARK')?.id).toBe('bench-mha-2');
  });

  it('has none for a kind not compared', () => {
    expect(defaultBaseline([benchGqa], 'TRAINING')).toBeUndefined();
  });
});
