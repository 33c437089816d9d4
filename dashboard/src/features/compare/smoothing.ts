// Curve smoothing as TensorBoard and W&B do it: an exponential moving average with bias correction, so
// the first points are not dragged toward zero. The x axis can be step, tokens seen or wall time.

import type { MetricPoint } from '../../shared/api/types';
import type { XAxis } from './permalink';

export function emaSmooth(values: number[], weight: number): number[] {
  if (weight <= 0) return [...values];
  const out: number[] = [];
  let acc = 0;
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      out.push(v);
      continue;
    }
    acc = acc * weight + (1 - weight) * v;
    n += 1;
    out.push(acc / (1 - weight ** n));
  }
  return out;
}

export function xOf(p: MetricPoint, axis: XAxis): number | undefined {
  if (axis === 'tokens') return p.tokens;
  if (axis === 'time') return p.elapsedS;
  return p.step;
}

/** Points of one series on the chosen x axis, smoothed; points lacking that x are dropped. */
export function curve(points: MetricPoint[], axis: XAxis, weight: number): { x: number; y: number }[] {
  const usable = points.filter((p) => xOf(p, axis) !== undefined && Number.isFinite(xOf(p, axis)!));
  const ys = emaSmooth(
    usable.map((p) => p.value),
    weight,
  );
  return usable.map((p, i) => ({ x: xOf(p, axis)!, y: ys[i] }));
}
