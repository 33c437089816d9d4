// Seeds of one variant as one curve: the mean at every x that any seed reached, with the min-max band,
// as W&B's run grouping draws it. Curves are smoothed before aggregation so the band shows seed spread,
// not step noise.

export interface Band {
  x: number;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

export function aggregateCurves(curves: { x: number; y: number }[][]): Band[] {
  const byX = new Map<number, number[]>();
  for (const c of curves) {
    for (const p of c) {
      if (!Number.isFinite(p.y)) continue;
      const list = byX.get(p.x);
      if (list) list.push(p.y);
      else byX.set(p.x, [p.y]);
    }
  }
  return [...byX.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([x, ys]) => ({ x, mean: ys.reduce((s, v) => s + v, 0) / ys.length, lo: Math.min(...ys), hi: Math.max(...ys), n: ys.length }));
}
