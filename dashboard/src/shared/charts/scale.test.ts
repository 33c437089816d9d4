import { describe, expect, it } from 'vitest';
import { extent, linearScale, logScale } from './scale';

describe('scales', () => {
  it('linear scale covers the data with nice ticks', () => {
    const s = linearScale([0.13, 9.7], [0, 100]);
    expect(s.ticks[0]).toBeLessThanOrEqual(0.13);
    expect(s.ticks[s.ticks.length - 1]).toBeGreaterThanOrEqual(9.7);
    expect(s.ticks).toContain(2);
    expect(s(s.domain[0])).toBe(0);
    expect(s(s.domain[1])).toBe(100);
  });

  it('log scale ticks on powers of two for sequence lengths', () => {
    const s = logScale([1024, 16384], [0, 400]);
    expect(s.ticks).toEqual([1024, 2048, 4096, 8192, 16384]);
    expect(s(1024)).toBeCloseTo(0);
    expect(s(16384)).toBeCloseTo(400);
    expect(s(4096)).toBeCloseTo(200);
  });

  it('extent ignores non-finite values', () => {
    expect(extent([3, NaN, -1, Infinity])).toEqual([-1, 3]);
  });
});
