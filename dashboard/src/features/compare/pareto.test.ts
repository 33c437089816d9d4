import { describe, expect, it } from 'vitest';
import { higherIsBetter, memoryPerToken, minSpanDomain, modelCostPerLayer, paretoFrontier, swaLayers } from './pareto';

describe('paretoFrontier', () => {
  it('keeps exactly the points no other point beats on both axes', () => {
    const pts = [
      { key: 'mha', x: 8192, y: 1.9 },
      { key: 'gqa4', x: 2048, y: 2.0 },
      { key: 'gqa8', x: 1024, y: 2.3 },
      { key: 'cca', x: 1024, y: 2.05 },
      { key: 'mla', x: 2048, y: 2.1 }, // dominated by gqa4
      { key: 'worse', x: 9000, y: 2.5 }, // dominated by everything
    ];
    expect(paretoFrontier(pts).map((p) => p.key)).toEqual(['cca', 'gqa4', 'mha']);
  });

  it('drops the worse of two points at the same cost and ignores non-finite values', () => {
    const pts = [
      { key: 'a', x: 1, y: 3 },
      { key: 'b', x: 1, y: 2 },
      { key: 'nan', x: NaN, y: 0 },
    ];
    expect(paretoFrontier(pts).map((p) => p.key)).toEqual(['b']);
  });

  it('is empty for no points', () => {
    expect(paretoFrontier([])).toEqual([]);
  });
});

describe('memoryPerToken', () => {
  it('is the cache per token for KV-cache variants and spreads a fixed state over the sequence', () => {
    expect(memoryPerToken({ kvCacheBytesPerToken: 8192, decodeStateBytes: 0, seqLen: 1024 })).toBe(8192);
    expect(memoryPerToken({ kvCacheBytesPerToken: 2048, decodeStateBytes: 4096, seqLen: 1024 })).toBe(2052);
    // OVQ: no per-token cache, a bounded dictionary state; the figure falls as S grows.
    expect(memoryPerToken({ kvCacheBytesPerToken: 0, decodeStateBytes: 1 << 20, seqLen: 1 << 10 })).toBe(1024);
    expect(memoryPerToken({ kvCacheBytesPerToken: 0, decodeStateBytes: 1 << 20, seqLen: 1 << 12 })).toBe(256);
  });

  it('keeps older cost shapes and leaves unknown costs out', () => {
    expect(memoryPerToken({ kvBytesPerToken: 64 })).toBe(64);
    expect(memoryPerToken({ prefillFlops: 1e6 })).toBeUndefined();
  });
});

describe('modelCostPerLayer', () => {
  // An SWA/OVQ hybrid of E = 64, 4 heads, 2 layers at S = 256, bf16. MHA's K and V: 256 B per token.
  const mha = { seqLen: 256, kvCacheBytesPerToken: 256, decodeStateBytes: 0, prefillFlops: 25_165_824, prefillAttentionFlops: 16_777_216 };
  // The OVQ layer (N 32, L 16): its dictionary state, 16896 B at S = 256, no per-token cache.
  const ovqLayer = { seqLen: 256, kvCacheBytesPerToken: 0, decodeStateBytes: 16_896, prefillFlops: 11_300_000 };
  const hybrid = { family: 'ovq', dModel: 64, nHeads: 4, ovq: { swaWindow: 32 } };

  it('counts the SWA layers of an SWA/OVQ hybrid: an MHA cache of W tokens beside the OVQ state', () => {
    const swa = swaLayers(hybrid, 2);
    expect(swa).toEqual({ window: 32, layers: 1 });
    // SWA layer: 32 tokens x 256 B over 256 tokens = 32 B per token; OVQ layer: 16896 / 256 = 66 B per token.
    expect(modelCostPerLayer('kv', ovqLayer, swa, 2, mha)).toBe((32 + 66) / 2);
    // FLOPs: the SWA layer's projections in full, its attention over at most W = 32 of 256 keys.
    expect(modelCostPerLayer('flops', ovqLayer, swa, 2, mha)).toBe((25_165_824 - 16_777_216 + 16_777_216 / 8 + 11_300_000) / 2);
  });

  it('has three SWA layers in five (even blocks, the first included) and none without a window', () => {
    expect(swaLayers(hybrid, 5)).toEqual({ window: 32, layers: 3 });
    expect(swaLayers({ family: 'ovq', ovq: { swaWindow: 0 } }, 4)).toEqual({ window: 0, layers: 0 });
    expect(swaLayers({ family: 'ovq' }, 2)).toEqual({ window: 512, layers: 1 });
    expect(swaLayers({ family: 'mha' }, 2)).toEqual({ window: 0, layers: 0 });
  });

  it('is the layer cost itself for models of one kind of layer, and unknown for a hybrid without its SWA cost', () => {
    expect(modelCostPerLayer('kv', mha, swaLayers({ family: 'mha' }, 2), 2)).toBe(256);
    expect(modelCostPerLayer('flops', ovqLayer, swaLayers({ family: 'ovq', ovq: { swaWindow: 0 } }, 2), 2)).toBe(11_300_000);
    expect(modelCostPerLayer('kv', ovqLayer, swaLayers(hybrid, 2), 2, undefined)).toBeUndefined();
    expect(modelCostPerLayer('kv', undefined, swaLayers({ family: 'mha' }, 2), 2)).toBeUndefined();
  });
});

describe('metric direction and the quality axis', () => {
  it('takes an accuracy as better higher, a loss lower, and a declared direction over the name', () => {
    expect(higherIsBetter('recall/accuracy')).toBe(true);
    expect(higherIsBetter('val/loss')).toBe(false);
    expect(higherIsBetter('val/loss', 'higher')).toBe(true);
    expect(higherIsBetter('recall/accuracy', 'lower')).toBe(false);
    // The api's names (GET /api/compare's direction) and its name rule.
    expect(higherIsBetter('val/loss', 'HIGHER_IS_BETTER')).toBe(true);
    expect(higherIsBetter('eval/acc', 'LOWER_IS_BETTER')).toBe(false);
    expect(higherIsBetter('throughput/tokens_per_s')).toBe(true);
    expect(higherIsBetter('eval/acc')).toBe(true);
    expect(higherIsBetter('train/accum_steps')).toBe(false);
  });

  it('keeps on the frontier the points no other beats when higher is better', () => {
    const pts = [
      { key: 'cheap-bad', x: 1, y: 0.5 },
      { key: 'cheap-worse', x: 1, y: 0.4 },
      { key: 'dear-good', x: 4, y: 0.9 },
      { key: 'dear-dominated', x: 8, y: 0.8 },
    ];
    expect(paretoFrontier(pts, true).map((p) => p.key)).toEqual(['cheap-bad', 'dear-good']);
  });

  it('widens a span of last-digit noise to a share of the value, and leaves a wide one alone', () => {
    const [lo, hi] = minSpanDomain([4.85872, 4.85878], 0.04)!;
    expect(hi - lo).toBeCloseTo(4.85875 * 0.04, 6);
    expect((lo + hi) / 2).toBeCloseTo(4.85875, 6);
    expect(minSpanDomain([2, 3], 0.04)).toEqual([2, 3]);
    expect(minSpanDomain([], 0.04)).toBeUndefined();
  });
});
