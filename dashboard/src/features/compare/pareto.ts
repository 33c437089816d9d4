// The Pareto frontier of cost (memory per token, or FLOPs) against validation loss: the variants no other
// variant beats on both. Lower cost is better; the quality axis is better lower (a loss) or higher (an accuracy).

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

/**
 * SWA layers of a training run's model (engine model.LayerPattern): an OVQ model with swaWindow W > 0 alternates
 * sliding-window MHA (even blocks, the first included) and OVQ (odd blocks); every other model has none.
 */
export function swaLayers(variant: Record<string, unknown> | undefined, nLayers: number | undefined): { window: number; layers: number } {
  if (!variant || variant.family !== 'ovq' || !nLayers) return { window: 0, layers: 0 };
  const window = ((variant.ovq ?? {}) as Record<string, unknown>).swaWindow;
  const w = typeof window === 'number' ? window : 512; // OvqSpec's default
  return w > 0 ? { window: w, layers: Math.ceil(nLayers / 2) } : { window: 0, layers: 0 };
}

/**
 * The Pareto x of a training run's model per layer: the mean over its layers, so an SWA/OVQ hybrid counts its
 * SWA layers (an MHA cache of min(S, W) tokens, attention over at most W keys, from `swaCost`, the cost of that
 * MHA layer at the same S) beside its OVQ layers (`cost`). Undefined when a needed cost is missing.
 */
export function modelCostPerLayer(
  mode: 'kv' | 'flops',
  cost: Record<string, unknown> | undefined,
  swa: { window: number; layers: number },
  nLayers: number,
  swaCost?: Record<string, unknown>,
): number | undefined {
  const own = cost === undefined ? undefined : mode === 'kv' ? memoryPerToken(cost) : (cost.prefillFlops as number | undefined);
  if (own === undefined || swa.layers === 0) return own;
  if (!swaCost) return undefined;
  const seqLen = swaCost.seqLen as number | undefined;
  if (!seqLen) return undefined;
  const share = Math.min(seqLen, swa.window) / seqLen;
  let perSwa: number | undefined;
  if (mode === 'kv') {
    const perToken = memoryPerToken(swaCost);
    perSwa = perToken === undefined ? undefined : perToken * share;
  } else {
    const total = swaCost.prefillFlops as number | undefined;
    const attention = (swaCost.prefillAttentionFlops as number | undefined) ?? 0;
    perSwa = total === undefined ? undefined : total - attention + attention * share;
  }
  if (perSwa === undefined) return undefined;
  return (swa.layers * perSwa + (nLayers - swa.layers) * own) / nLayers;
}

export interface ParetoInput {
  key: string;
  x: number;
  y: number;
}

/**
 * The frontier sorted by x; a point is on it when no other point has x <= and a y as good or better with one
 * strictly better. y is better lower (a loss), or higher with `higherIsBetter` (an accuracy).
 */
export function paretoFrontier<T extends ParetoInput>(points: T[], higherIsBetter = false): T[] {
  const sign = higherIsBetter ? -1 : 1;
  const finite = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const sorted = [...finite].sort((a, b) => a.x - b.x || sign * (a.y - b.y));
  const frontier: T[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (sign * p.y < best) {
      frontier.push(p);
      best = sign * p.y;
    }
  }
  return frontier;
}

/** The api's rule (MetricDirection): a word of the name that marks a higher-is-better series. */
const HIGHER_WORD = /(^|[/_.@ -])(accuracy|acc|tokens_per_s|throughput|tflops|top1|top5|f1|auc)($|[/_.@ -])/;

/**
 * Which way a metric improves: the direction the api declares for it (GET /api/compare's `direction`,
 * HIGHER_IS_BETTER / LOWER_IS_BETTER), else by its name as the api judges it: accuracy- and throughput-like series
 * (recall/accuracy, tokens_per_s, TFLOP/s) are better higher, losses and anything else lower.
 */
export function higherIsBetter(metric: string, declared?: string | null): boolean {
  const d = declared?.toLowerCase();
  if (d === 'higher' || d === 'max' || d === 'maximize' || d === 'higher_is_better') return true;
  if (d === 'lower' || d === 'min' || d === 'minimize' || d === 'lower_is_better') return false;
  const name = metric.toLowerCase();
  return HIGHER_WORD.test(name) || name.includes('accuracy') || name.includes('tokens/s');
}

/**
 * A value axis that spans at least `minRelSpan` of its values' magnitude, centred on them: runs equal to five
 * digits are drawn level instead of spread over the whole height by their last-digit noise.
 */
export function minSpanDomain(values: number[], minRelSpan: number): [number, number] | undefined {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return undefined;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const mid = (lo + hi) / 2;
  const span = Math.max(hi - lo, Math.abs(mid) * minRelSpan, Number.EPSILON);
  return hi - lo >= span ? [lo, hi] : [mid - span / 2, mid + span / 2];
}
