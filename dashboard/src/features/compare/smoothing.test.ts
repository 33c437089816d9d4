import { describe, expect, it } from 'vitest';
import { curve, emaSmooth } from './smoothing';

describe('emaSmooth', () => {
  it('is the identity at weight 0', () => {
    expect(emaSmooth([3, 1, 2], 0)).toEqual([3, 1, 2]);
  });

  it('is debiased: a constant series stays constant from the first point', () => {
    for (const v of emaSmooth([5, 5, 5, 5], 0.9)) expect(v).toBeCloseTo(5, 12);
  });

  it('matches the hand-computed debiased EMA', () => {
    // w = 0.5: acc1 = 0.5*2 = 1 -> 1/(1-0.5) = 2; acc2 = 0.5*1 + 0.5*4 = 2.5 -> 2.5/(1-0.25) = 3.333...
    const out = emaSmooth([2, 4], 0.5);
    expect(out[0]).toBeCloseTo(2, 12);
    expect(out[1]).toBeCloseTo(10 / 3, 12);
  });

  it('damps noise', () => {
    const noisy = Array.from({ length: 200 }, (_, i) => 1 + (i % 2 === 0 ? 0.5 : -0.5));
    const smooth = emaSmooth(noisy, 0.9).slice(50);
    expect(Math.max(...smooth) - Math.min(...smooth)).toBeLessThan(0.2);
  });

  it('passes NaN through without poisoning later points', () => {
    const out = emaSmooth([1, NaN, 1], 0.5);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBeCloseTo(1, 12);
  });
});

describe('curve', () => {
  const pts = [
    { step: 1, value: 4, tokens: 100, elapsedS: 0.5 },
    { step: 2, value: 2, tokens: 200 },
  ];
  it('puts tokens or time on x and drops points without that x', () => {
    expect(curve(pts, 'tokens', 0).map((p) => p.x)).toEqual([100, 200]);
    expect(curve(pts, 'time', 0)).toEqual([{ x: 0.5, y: 4 }]);
    expect(curve(pts, 'step', 0)).toEqual([
      { x: 1, y: 4 },
      { x: 2, y: 2 },
    ]);
  });
});
