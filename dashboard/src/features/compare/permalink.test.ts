import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, parseCompare, serializeCompare, type CompareState } from './permalink';

describe('permalink', () => {
  it('round-trips a full view', () => {
    const s: CompareState = {
      runs: ['r1', 'r2'],
      experiments: ['e1'],
      baseline: 'r1',
      metric: 'val/loss',
      x: 'tokens',
      smooth: 0.85,
      phase: 'DECODE',
      scope: 'CORE',
      pareto: 'flops',
      logY: true,
      seeds: 'mean',
    };
    const q = serializeCompare(s);
    expect(q).toBe('runs=r1,r2&experiments=e1&baseline=r1&metric=val/loss&x=tokens&smooth=0.85&phase=DECODE&scope=CORE&pareto=flops&logY=1&seeds=mean');
    expect(parseCompare(q)).toEqual(s);
    expect(parseCompare(`?${q}`)).toEqual(s);
  });

  it('writes nothing for the defaults and reads nothing as the defaults', () => {
    expect(serializeCompare(DEFAULT_STATE)).toBe('');
    expect(parseCompare('')).toEqual({ ...DEFAULT_STATE, baseline: undefined });
  });

  it('repairs bad values instead of failing', () => {
    const s = parseCompare('runs=a,,a,b&x=banana&smooth=7&pareto=x');
    expect(s.runs).toEqual(['a', 'b']);
    expect(s.x).toBe('step');
    expect(s.smooth).toBe(0.99);
    expect(s.pareto).toBe('kv');
  });

  it('reads values URLSearchParams encoded', () => {
    expect(parseCompare(new URLSearchParams({ runs: 'a,b', metric: 'recall/accuracy' })).metric).toBe('recall/accuracy');
  });
});
