// The Pareto frontier of cost (KV bytes per token, or FLOPs) against validation loss: the variants no other
// variant beats on both. Lower is better on both axes.

export interface ParetoInput {
  key: string;
  x: number;
  y: number;
}

/** The frontier sorted by x; a point is on it when no other point has x <= and y <= with one strictly less. */
export function paretoFrontier<T extends ParetoInput>(points: T[]): T[] {
  const finite = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const sorted = [...finite].sort((a, b) => a.x - b.x || a.y - b.y);
  const frontier: T[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.y < best) {
      frontier.push(p);
      best = p.y;
    }
  }
  return frontier;
}
