// The variant families a form offers. GET /api/variants (org.ccalab.common.variant.VariantCatalog) is the
// authority; this copy of its fields lets the form work while the api is unreachable, and both use the same
// dotted parameter names, which are also the JSON paths the api's validation errors name.

import type { AttentionConfig, Family } from '../../shared/api/types';

export interface ParamSpec {
  name: string;
  type: 'int' | 'double' | 'boolean' | 'enum';
  defaultValue?: unknown;
  min?: number | null;
  max?: number | null;
  allowed?: string[];
  description?: string;
}

export interface FamilySpec {
  family: Family;
  title: string;
  description?: string;
  parameters: ParamSpec[];
  defaultConfig: AttentionConfig;
  presets: { name: string; description?: string; config: AttentionConfig }[];
}

const int = (name: string, def: number, min: number, max: number, description: string): ParamSpec => ({ name, type: 'int', defaultValue: def, min, max, description });
const real = (name: string, def: number, min: number, max: number, description: string): ParamSpec => ({ name, type: 'double', defaultValue: def, min, max, description });
const rope = (prefix: string, fraction: number): ParamSpec[] => [
  real(`${prefix}fraction`, fraction, 0, 1, "share of each head's channels rotated by RoPE; 0 = none"),
  real(`${prefix}base`, 10000, 1, 1e9, 'RoPE base theta'),
];
const conv: ParamSpec[] = [
  int('conv.convSeqKernel', 2, 1, 16, 'k0: depthwise conv width over time'),
  int('conv.convChannelKernel', 2, 1, 16, 'k1: grouped (per head) conv width over time'),
  ...rope('conv.rope.', 0.5),
  { name: 'conv.keyTemperature', type: 'enum', defaultValue: 'EXP', allowed: ['EXP', 'LINEAR', 'CLAMPED_EXP'], description: 'key scale beta from theta' },
  real('conv.normEps', 1e-12, 0, 1e-2, 'epsilon added to the squared L2 norm'),
  { name: 'conv.qkMean', type: 'boolean', defaultValue: true, description: 'add the pre-conv q-k mean to q and k' },
  { name: 'conv.valueShift', type: 'boolean', defaultValue: true, description: 'value latent half from the previous token' },
];
const E = 2048;

export const BUILT_IN_FAMILIES: FamilySpec[] = [
  {
    family: 'mha',
    title: 'Multi-head attention',
    parameters: [int('dModel', E, 1, 16384, 'residual width E'), int('nHeads', 16, 1, 256, 'heads; head dim = dModel / nHeads'), ...rope('rope.', 1)],
    defaultConfig: { family: 'mha', dModel: E, nHeads: 16 },
    presets: [{ name: 'MHA', config: { family: 'mha', dModel: E, nHeads: 16 } }],
  },
  {
    family: 'gqa',
    title: 'Grouped-query attention',
    parameters: [
      int('dModel', E, 1, 16384, 'residual width E'),
      int('nHeads', 16, 1, 256, 'query heads'),
      int('nKvHeads', 4, 1, 256, 'key/value heads, must divide nHeads; 1 = MQA'),
      ...rope('rope.', 1),
    ],
    defaultConfig: { family: 'gqa', dModel: E, nHeads: 16, nKvHeads: 4 },
    presets: [
      { name: 'GQA-4', config: { family: 'gqa', dModel: E, nHeads: 16, nKvHeads: 4 } },
      { name: 'GQA-8', config: { family: 'gqa', dModel: E, nHeads: 16, nKvHeads: 2 } },
      { name: 'MQA', config: { family: 'gqa', dModel: E, nHeads: 16, nKvHeads: 1 } },
    ],
  },
  {
    family: 'mla',
    title: 'Multi-head latent attention',
    parameters: [
      int('dModel', E, 1, 16384, 'residual width E'),
      int('nHeads', 16, 1, 256, 'attention heads'),
      int('qLoraRank', 0, 0, 16384, 'query low-rank; 0 = direct query projection'),
      int('kvLoraRank', 960, 1, 16384, 'KV latent rank (cached per token)'),
      int('qkNopeHeadDim', 128, 0, 512, 'per-head query/key channels without RoPE'),
      int('qkRopeHeadDim', 64, 0, 512, 'decoupled RoPE channels (even)'),
      int('vHeadDim', 128, 1, 512, 'per-head value width'),
      real('ropeBase', 10000, 1, 1e9, 'RoPE base theta'),
      real('normEps', 1e-6, 1e-30, 1e-2, 'epsilon of the inner RMSNorms'),
    ],
    defaultConfig: { family: 'mla', dModel: E, nHeads: 16, qLoraRank: 0, kvLoraRank: 960, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128, ropeBase: 10000, normEps: 1e-6 },
    presets: [],
  },
  {
    family: 'cca',
    title: 'Compressed convolutional attention',
    parameters: [int('dModel', E, 1, 16384, 'residual width E'), int('nHeads', 4, 1, 256, 'latent heads'), int('headDim', 128, 1, 512, 'latent head dim; C = dModel / (nHeads * headDim)'), ...conv],
    defaultConfig: { family: 'cca', dModel: E, nHeads: 4, headDim: 128 },
    presets: [{ name: 'CCA-4x', config: { family: 'cca', dModel: E, nHeads: 4, headDim: 128 } }],
  },
  {
    family: 'ccgqa',
    title: 'Compressed convolutional GQA',
    parameters: [
      int('dModel', E, 1, 16384, 'residual width E'),
      int('nQHeads', 8, 1, 256, 'latent query heads'),
      int('nKvHeads', 2, 1, 256, 'latent key/value heads; must divide nQHeads'),
      int('headDim', 128, 1, 512, 'latent head dim'),
      ...conv,
    ],
    defaultConfig: { family: 'ccgqa', dModel: E, nQHeads: 8, nKvHeads: 2, headDim: 128 },
    presets: [{ name: 'CCGQA-2x8x', config: { family: 'ccgqa', dModel: E, nQHeads: 8, nKvHeads: 2, headDim: 128 } }],
  },
  {
    family: 'ovq',
    title: 'Online vector-quantized attention',
    parameters: [
      int('dModel', E, 1, 16384, 'residual width E'),
      int('nHeads', 32, 1, 256, 'heads; head dim = dModel / nHeads'),
      int('ovq.chunkLength', 64, 1, 4096, 'chunk L: read exactly, folded into the dictionary at its end'),
      int('ovq.dictionarySize', 1024, 1, 65536, 'dictionary cap N_max per head'),
      int('ovq.growthLength', 4096, 1, 16777216, 'tokens after which the dictionary reaches N_max'),
      { name: 'ovq.growth', type: 'enum', defaultValue: 'LOG', allowed: ['LOG', 'LINEAR'], description: 'dictionary growth schedule' },
      { name: 'ovq.assignment', type: 'enum', defaultValue: 'EUCLIDEAN', allowed: ['EUCLIDEAN', 'DOT'], description: 'centroid a key joins' },
      { name: 'ovq.update', type: 'enum', defaultValue: 'NEWTON', allowed: ['NEWTON', 'CONSTANT'], description: 'centroid step' },
      real('ovq.constantRate', 0.1, 1e-6, 1, 'eta of the CONSTANT update'),
      { name: 'ovq.stateOnly', type: 'boolean', defaultValue: false, description: 'read the dictionary only, not the current chunk' },
      { name: 'ovq.renormalizeCentroids', type: 'boolean', defaultValue: false, description: 'read with unit-norm centroids' },
      { name: 'ovq.learnBeta', type: 'boolean', defaultValue: true, description: 'learn beta per head' },
      { name: 'ovq.stateGradient', type: 'boolean', defaultValue: true, description: 'backpropagate through the dictionary' },
      int('ovq.swaWindow', 512, 0, 16777216, 'language models alternate SWA layers of this window with OVQ layers; 0 = OVQ only'),
    ],
    defaultConfig: { family: 'ovq', dModel: E, nHeads: 32 },
    presets: [{ name: 'OVQ-1k', config: { family: 'ovq', dModel: E, nHeads: 32 } }],
  },
];

/** Reads GET /api/variants leniently (a list, or an object holding `families`); keeps built-ins for what it lacks. */
export function toFamilies(body: unknown): FamilySpec[] {
  const list = Array.isArray(body)
    ? body
    : body && typeof body === 'object' && Array.isArray((body as { families?: unknown }).families)
      ? (body as { families: unknown[] }).families
      : [];
  const byName = new Map<string, FamilySpec>(BUILT_IN_FAMILIES.map((f) => [f.family, f]));
  for (const raw of list) {
    if (!raw || typeof raw !== 'object') continue;
    const f = raw as Record<string, unknown>;
    const name = String(f.family ?? '');
    const builtIn = byName.get(name);
    if (!builtIn) continue;
    const params = Array.isArray(f.parameters)
      ? (f.parameters as Record<string, unknown>[]).map((p) => ({
          name: String(p.name),
          type: (['int', 'double', 'boolean', 'enum'].includes(String(p.type)) ? p.type : 'double') as ParamSpec['type'],
          defaultValue: p.defaultValue ?? p.default,
          min: typeof p.min === 'number' ? p.min : null,
          max: typeof p.max === 'number' ? p.max : null,
          allowed: Array.isArray(p.allowed) ? (p.allowed as string[]) : undefined,
          description: typeof p.description === 'string' ? p.description : undefined,
        }))
      : builtIn.parameters;
    const presets = Array.isArray(f.presets)
      ? (f.presets as Record<string, unknown>[])
          .filter((p) => p.config && typeof p.config === 'object')
          .map((p) => ({ name: String(p.name), description: p.description ? String(p.description) : undefined, config: p.config as AttentionConfig }))
      : builtIn.presets;
    byName.set(name, {
      family: builtIn.family,
      title: typeof f.title === 'string' ? f.title : builtIn.title,
      description: typeof f.description === 'string' ? f.description : builtIn.description,
      parameters: params,
      defaultConfig: (f.defaultConfig as AttentionConfig) ?? builtIn.defaultConfig,
      presets,
    });
  }
  return BUILT_IN_FAMILIES.map((f) => byName.get(f.family)!);
}

/** Reads a dotted path ("conv.rope.fraction") out of a nested config. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Writes a dotted path into a nested object, creating the intermediate objects. */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (!cur[part] || typeof cur[part] !== 'object') cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]] = value;
}
