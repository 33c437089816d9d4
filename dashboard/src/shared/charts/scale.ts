// Axis scales for the hand-written SVG charts: linear with "nice" ticks, and log10 for sequence lengths
// and byte counts that span decades.

export interface Scale {
  (value: number): number;
  ticks: number[];
  domain: [number, number];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
}

export function linearScale(domain: [number, number], range: [number, number], tickCount = 5): Scale {
  let [d0, d1] = domain;
  if (!Number.isFinite(d0) || !Number.isFinite(d1)) [d0, d1] = [0, 1];
  if (d0 === d1) [d0, d1] = d0 === 0 ? [0, 1] : [d0 - Math.abs(d0) * 0.1, d1 + Math.abs(d1) * 0.1];
  const step = niceStep(d1 - d0, tickCount);
  const t0 = Math.floor(d0 / step) * step;
  const t1 = Math.ceil(d1 / step) * step;
  const ticks: number[] = [];
  for (let t = t0; t <= t1 + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  const [r0, r1] = range;
  const f = ((v: number) => r0 + ((v - t0) / (t1 - t0 || 1)) * (r1 - r0)) as Scale;
  f.ticks = ticks;
  f.domain = [t0, t1];
  return f;
}

export function logScale(domain: [number, number], range: [number, number]): Scale {
  const lo = Math.max(domain[0], Number.MIN_VALUE);
  const hi = Math.max(domain[1], lo);
  let e0 = Math.floor(Math.log10(lo));
  let e1 = Math.ceil(Math.log10(hi));
  if (e0 === e1) e1 = e0 + 1;
  // Sequence lengths are powers of two: tick on them when the span is a handful of octaves.
  const ticks: number[] = [];
  const octaves = Math.log2(hi / lo);
  if (octaves <= 12 && Number.isInteger(Math.log2(lo))) {
    for (let v = lo; v <= hi * 1.0001; v *= 2) ticks.push(v);
    e0 = Math.log10(lo);
    e1 = Math.log10(hi) === e0 ? e0 + 1 : Math.log10(hi);
  } else {
    for (let e = e0; e <= e1; e++) ticks.push(10 ** e);
  }
  const [r0, r1] = range;
  const f = ((v: number) => r0 + ((Math.log10(Math.max(v, Number.MIN_VALUE)) - e0) / (e1 - e0)) * (r1 - r0)) as Scale;
  f.ticks = ticks;
  f.domain = [10 ** e0, 10 ** e1];
  return f;
}

export function extent(values: Iterable<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}
