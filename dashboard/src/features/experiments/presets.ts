// Experiment presets: whole requests a researcher starts from. The kernel curve is the paper's benchmark
// set at E = 2048 (cca.md section 9); the equal-KV comparison trains variants whose KV cache per token is
// the same (128 elements per layer at E = 256), so quality differences are not bought with memory.

import type { CreateExperimentRequest } from '../../shared/api/types';

export interface ExperimentPreset {
  id: string;
  label: string;
  description: string;
  request: CreateExperimentRequest;
}

const E = 2048;

export const EXPERIMENT_PRESETS: ExperimentPreset[] = [
  {
    id: 'paper-kernel-curve',
    label: 'Paper kernel curve',
    description: 'MHA, GQA-4, GQA-8, MLA-4, CCA-4x and CCGQA-2x8x at E = 2048, sequence length 1k to 16k, all phases (a GPU job).',
    request: {
      name: 'paper kernel curve',
      kind: 'BENCHMARK',
      variants: [
        { family: 'mha', dModel: E, nHeads: 16 },
        { family: 'gqa', dModel: E, nHeads: 16, nKvHeads: 4 },
        { family: 'gqa', dModel: E, nHeads: 16, nKvHeads: 2 },
        { family: 'mla', dModel: E, nHeads: 16, qLoraRank: 0, kvLoraRank: 960, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128, ropeBase: 10000, normEps: 1e-6 },
        { family: 'cca', dModel: E, nHeads: 4, headDim: 128 },
        { family: 'ccgqa', dModel: E, nQHeads: 8, nKvHeads: 2, headDim: 128 },
      ],
      grid: { seqLen: [1024, 2048, 4096, 8192, 16384] },
      benchmark: { batch: 1, seqLen: 1024, phases: ['FORWARD', 'BACKWARD', 'DECODE'], scopes: ['CORE', 'LAYER'], causal: true, dtype: 'bf16' },
    },
  },
  {
    id: 'equal-kv-quality',
    label: 'Equal-KV quality comparison',
    description: 'GQA, MLA, CCA and CCGQA with 128 cached elements per token per layer against an MHA baseline, trained on associative recall, three seeds.',
    request: {
      name: 'equal-KV quality comparison',
      kind: 'TRAINING',
      variants: [
        { family: 'mha', dModel: 256, nHeads: 4 },
        { family: 'gqa', dModel: 256, nHeads: 8, nKvHeads: 2 },
        { family: 'mla', dModel: 256, nHeads: 8, qLoraRank: 0, kvLoraRank: 96, qkNopeHeadDim: 32, qkRopeHeadDim: 32, vHeadDim: 32, ropeBase: 10000, normEps: 1e-6 },
        { family: 'cca', dModel: 256, nHeads: 2, headDim: 32 },
        { family: 'ccgqa', dModel: 256, nQHeads: 4, nKvHeads: 2, headDim: 32 },
      ],
      grid: { seed: [1, 2, 3] },
      training: { dataset: 'recall', tokenizer: 'bytes', nLayers: 2, seqLen: 128, batch: 8, steps: 300, learningRate: 0.003, evalEvery: 50 },
    },
  },
  {
    id: 'cpu-smoke-benchmark',
    label: 'CPU smoke benchmark',
    description: 'Three tiny layers at two sequence lengths: finishes in seconds on the CPU backend.',
    request: {
      name: 'cpu smoke benchmark',
      kind: 'BENCHMARK',
      variants: [
        { family: 'mha', dModel: 64, nHeads: 4 },
        { family: 'gqa', dModel: 64, nHeads: 4, nKvHeads: 2 },
        { family: 'cca', dModel: 64, nHeads: 2, headDim: 16 },
      ],
      grid: { seqLen: [32, 64] },
      benchmark: { batch: 1, seqLen: 32, phases: ['FORWARD', 'BACKWARD', 'DECODE'], scopes: ['LAYER'], causal: true, dtype: 'fp32', warmup: 1, iterations: 3 },
    },
  },
  {
    id: 'cpu-tiny-training',
    label: 'CPU tiny training',
    description: 'MHA against GQA in a one-layer model for 30 steps: finishes in seconds on the CPU backend.',
    request: {
      name: 'cpu tiny training',
      kind: 'TRAINING',
      variants: [
        { family: 'mha', dModel: 32, nHeads: 2 },
        { family: 'gqa', dModel: 32, nHeads: 2, nKvHeads: 1 },
      ],
      grid: { seed: [1] },
      training: { dataset: 'recall', tokenizer: 'bytes', nLayers: 1, seqLen: 16, batch: 4, steps: 30, learningRate: 0.003, warmupSteps: 3, evalEvery: 10, checkpointEvery: 15 },
    },
  },
  {
    id: 'ovq-vs-mha-scaling',
    label: 'OVQ vs MHA: linear vs quadratic',
    description: 'One layer at E = 256 from 512 to 4096 tokens on the CPU backend: MHA grows with the square of the length, OVQ linearly, and its state stops growing once the dictionary is full.',
    request: {
      name: 'ovq vs mha scaling',
      kind: 'BENCHMARK',
      variants: [
        { family: 'mha', dModel: 256, nHeads: 4 },
        { family: 'ovq', dModel: 256, nHeads: 4, ovq: { chunkLength: 64, dictionarySize: 256, growthLength: 1024 } },
      ],
      grid: { seqLen: [512, 1024, 2048, 4096] },
      benchmark: { batch: 1, seqLen: 512, phases: ['FORWARD', 'DECODE'], scopes: ['LAYER'], causal: true, dtype: 'fp32', warmup: 1, iterations: 3 },
    },
  },
  {
    id: 'ovq-recall',
    label: 'In-context recall: OVQ hybrid vs MHA',
    description:
      'Two-layer models on the basic in-context recall task of ovq.md (8 key-value pairs, asked again past the SWA window, so only the OVQ layer can answer): an SWA + OVQ hybrid against full attention, a few minutes on the CPU backend. Chance is 1/16; one seed, a short budget.',
    request: {
      name: 'in-context recall: ovq vs mha',
      kind: 'TRAINING',
      variants: [
        { family: 'mha', dModel: 64, nHeads: 4 },
        { family: 'ovq', dModel: 64, nHeads: 4, ovq: { chunkLength: 16, dictionarySize: 32, growthLength: 256, swaWindow: 32 } },
      ],
      grid: { seed: [1] },
      // icr:32 at S = 64: 8 pairs in tokens 0-15, queried in 48-63, beyond the window of 32. The earlier icr:256 at
      // S = 256 and 300 steps left both models at chance (loss ln 128, accuracy 1/128): a tie that showed nothing.
      training: { dataset: 'icr:32', tokenizer: 'bytes', nLayers: 2, seqLen: 64, batch: 16, steps: 400, learningRate: 0.003, evalEvery: 50 },
    },
  },
];
