// The Pareto frontier of cost (memory per token, or FLOPs) against validation loss: the variants no other
// variant beats on both. Lower is better on both axes.

/**
 * Memory per token at the run's sequence length S: the cache each token adds plus the fixed state spread over S.
 * KV-cache variants are their cache (a CCA conv window adds a little); OVQ keeps no per-token cache, only a
 * dictionary state bounded in size, so its figure falls as S grows.
 */
export function memoryPerToken(cost: Record<string, unknown>): number | undefined {
  const perToken = (cost.kvCacheBytesPerToken ?? cost.kvBytesPerToken) as number | undefined;
  if (perToken === undefined) return undefined;
  const state = (cost.decodeStateBytes as number | undefined) ?? 0;
  const seqLen = cost.seqLen as number | undefined;
  return seqLen && seqLen > 0 ? perToken + state / seqLen : perToken;
}

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
