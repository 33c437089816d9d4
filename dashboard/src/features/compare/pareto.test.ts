import { describe, expect, it } from 'vitest';
import { memoryPerToken, paretoFrontier } from './pareto';

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
