import { describe, expect, it } from 'vitest';
import { aggregateCurves } from './aggregate';

describe('aggregateCurves', () => {
  it('averages the seeds at each x and keeps their range', () => {
    const bands = aggregateCurves([
      [
        { x: 1, y: 4 },
        { x: 2, y: 3 },
      ],
      [
        { x: 1, y: 2 },
        { x: 2, y: 1 },
        { x: 3, y: 0.5 },
      ],
    ]);
    expect(bands).toEqual([
      { x: 1, mean: 3, lo: 2, hi: 4, n: 2 },
      { x: 2, mean: 2, lo: 1, hi: 3, n: 2 },
      { x: 3, mean: 0.5, lo: 0.5, hi: 0.5, n: 1 },
    ]);
  });

  it('ignores non-finite values and is empty for no curves', () => {
    expect(aggregateCurves([[{ x: 1, y: NaN }]])).toEqual([]);
    expect(aggregateCurves([])).toEqual([]);
  });
});
