// Short names for variants in legends and tables: the family and what distinguishes its configs.

import type { AttentionConfig } from '../../shared/api/types';

export function variantLabel(v: AttentionConfig | undefined): string {
  if (!v) return 'unknown';
  const n = (k: string) => v[k] as number | undefined;
  const e = `E${v.dModel}`;
  switch (v.family) {
    case 'mha':
      return `MHA ${e} ${n('nHeads')}h`;
    case 'gqa':
      return `GQA ${e} ${n('nHeads')}q/${n('nKvHeads')}kv`;
    case 'mla':
      return `MLA ${e} ${n('nHeads')}h r${n('kvLoraRank')}${n('qLoraRank') ? ` q${n('qLoraRank')}` : ''}`;
    case 'cca':
      return `CCA ${e} ${n('nHeads')}h×${n('headDim')}`;
    case 'ccgqa':
      return `CCGQA ${e} ${n('nQHeads')}q/${n('nKvHeads')}kv×${n('headDim')}`;
    case 'ovq': {
      const o = (v.ovq ?? {}) as Record<string, unknown>;
      return `OVQ ${e} ${n('nHeads')}h N${o.dictionarySize ?? 1024} L${o.chunkLength ?? 64}`;
    }
    default:
      return String((v as { family?: string }).family ?? 'unknown');
  }
}

/** Canonical JSON of a config (sorted keys): runs with equal keys ran the same variant. */
export function variantKey(v: unknown): string {
  const canon = (x: unknown): unknown =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x as object)
            .sort()
            .map((k) => [k, canon((x as Record<string, unknown>)[k])]),
        )
      : x;
  return JSON.stringify(canon(v));
}
