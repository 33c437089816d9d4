// The submit form's state and its translation to POST /api/experiments. Inputs hold strings so a user can
// type freely; conversion happens once here, and anything that is not a number is sent as typed so the
// api's validation (the authority) names the field.

import type { AttentionConfig, CreateExperimentRequest, Family, RunKind } from '../../shared/api/types';
import { getPath, setPath, type FamilySpec } from './catalog';

export interface VariantDraft {
  uid: string;
  family: Family;
  /** dotted parameter name -> input text; "" means "leave to the server's default". */
  params: Record<string, string>;
}

export interface GridRow {
  uid: string;
  param: string;
  values: string;
}

export interface FormState {
  name: string;
  description: string;
  kind: RunKind;
  priority: string;
  maxAttempts: string;
  variants: VariantDraft[];
  benchmark: {
    batch: string;
    seqLen: string;
    phases: string[];
    scopes: string[];
    causal: boolean;
    dtype: string;
    warmup: string;
    iterations: string;
  };
  training: Record<TrainingField, string>;
  /** The run's deterministic backward (benchmark.deterministic or training.deterministic); sent only when true. */
  deterministic: boolean;
  grid: GridRow[];
}

export const TRAINING_FIELDS = [
  'dataset',
  'tokenizer',
  'nLayers',
  'seqLen',
  'batch',
  'steps',
  'learningRate',
  'warmupSteps',
  'weightDecay',
  'gradClip',
  'evalEvery',
  'checkpointEvery',
  'mlpHidden',
] as const;
export type TrainingField = (typeof TRAINING_FIELDS)[number];

/**
 * How the training form presents each field: a readable label, and as placeholder the value the api uses when
 * the field is left empty (TrainingSpec's defaults).
 */
export const TRAINING_FIELD_INFO: Record<TrainingField, { label: string; placeholder: string; note?: string; suggestions?: readonly string[] }> = {
  dataset: {
    label: 'Dataset',
    placeholder: 'recall',
    note: 'recall, icr, picr, linreg (each optionally sized, e.g. recall:16), brown, nlp-corpus or file:<path>',
    suggestions: ['recall', 'icr', 'picr', 'linreg', 'brown', 'nlp-corpus', 'file:'],
  },
  tokenizer: { label: 'Tokenizer', placeholder: 'bytes', suggestions: ['bytes', 'gpt2'] },
  nLayers: { label: 'Layers', placeholder: '2' },
  seqLen: { label: 'Sequence length', placeholder: '64' },
  batch: { label: 'Batch', placeholder: '8' },
  steps: { label: 'Steps', placeholder: '200' },
  learningRate: { label: 'Learning rate', placeholder: '0.003' },
  warmupSteps: { label: 'Warm-up steps', placeholder: 'min(20, steps / 10)' },
  weightDecay: { label: 'Weight decay', placeholder: '0.1' },
  gradClip: { label: 'Gradient clip', placeholder: '1.0' },
  evalEvery: { label: 'Evaluate every (steps)', placeholder: '50' },
  checkpointEvery: { label: 'Checkpoint every (steps)', placeholder: '100' },
  mlpHidden: { label: 'MLP hidden width', placeholder: '0 = 8/3 × dModel' },
};
const TRAINING_TEXT_FIELDS: readonly string[] = ['dataset', 'tokenizer'];

export const BENCHMARK_GRID_PARAMS = ['seed', 'seqLen', 'batch', 'dtype', 'causal', 'warmup', 'iterations', 'deterministic'];
export const TRAINING_GRID_PARAMS = ['seed', ...TRAINING_FIELDS, 'deterministic'];

let counter = 0;
export function uid(prefix = 'u'): string {
  counter += 1;
  return `${prefix}${counter}`;
}

export function emptyTraining(): Record<TrainingField, string> {
  return Object.fromEntries(TRAINING_FIELDS.map((f) => [f, ''])) as Record<TrainingField, string>;
}

export function initialForm(): FormState {
  return {
    name: '',
    description: '',
    kind: 'BENCHMARK',
    priority: '',
    maxAttempts: '',
    variants: [],
    benchmark: { batch: '1', seqLen: '1024', phases: ['FORWARD', 'BACKWARD', 'DECODE'], scopes: ['CORE', 'LAYER'], causal: true, dtype: 'bf16', warmup: '', iterations: '' },
    training: { ...emptyTraining(), dataset: 'recall', tokenizer: 'bytes', steps: '200', seqLen: '64', batch: '8' },
    deterministic: false,
    grid: [],
  };
}

/** A draft holding the family's required parameters; nested (dotted) ones stay empty = server default. */
export function draftFromConfig(config: AttentionConfig, spec: FamilySpec | undefined): VariantDraft {
  const params: Record<string, string> = {};
  for (const p of spec?.parameters ?? []) {
    const v = getPath(config, p.name);
    params[p.name] = v === undefined || v === null ? '' : String(v);
  }
  if (!spec) {
    for (const [k, v] of Object.entries(config)) if (k !== 'family' && typeof v !== 'object') params[k] = String(v);
  }
  return { uid: uid('v'), family: config.family, params };
}

/** "12" -> 12, "1e-3" -> 0.001, "true" -> true; anything else is kept as the user wrote it. */
export function parseScalar(text: string): number | string | boolean {
  const t = text.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return t;
}

export function parseList(text: string): (number | string | boolean)[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseScalar);
}

export function variantToConfig(draft: VariantDraft): AttentionConfig {
  const config: Record<string, unknown> = { family: draft.family };
  for (const [name, text] of Object.entries(draft.params)) {
    if (text.trim() === '') continue;
    setPath(config, name, parseScalar(text));
  }
  return config as AttentionConfig;
}

function putNumber(target: Record<string, unknown>, key: string, text: string) {
  if (text.trim() !== '') target[key] = parseScalar(text);
}

export function toRequest(form: FormState): CreateExperimentRequest {
  const req: CreateExperimentRequest = {
    name: form.name.trim(),
    kind: form.kind,
    variants: form.variants.map(variantToConfig),
    grid: {},
  };
  if (form.description.trim()) req.description = form.description.trim();
  putNumber(req as unknown as Record<string, unknown>, 'priority', form.priority);
  putNumber(req as unknown as Record<string, unknown>, 'maxAttempts', form.maxAttempts);
  if (form.kind === 'BENCHMARK') {
    const b = form.benchmark;
    const base: Record<string, unknown> = { phases: b.phases, scopes: b.scopes, causal: b.causal, dtype: b.dtype };
    putNumber(base, 'batch', b.batch);
    putNumber(base, 'seqLen', b.seqLen);
    putNumber(base, 'warmup', b.warmup);
    putNumber(base, 'iterations', b.iterations);
    if (form.deterministic) base.deterministic = true;
    req.benchmark = base;
  } else {
    const base: Record<string, unknown> = {};
    for (const f of TRAINING_FIELDS) {
      const text = form.training[f];
      if (text.trim() === '') continue;
      base[f] = TRAINING_TEXT_FIELDS.includes(f) ? text.trim() : parseScalar(text);
    }
    if (form.deterministic) base.deterministic = true;
    req.training = base;
  }
  for (const row of form.grid) {
    if (!row.param) continue;
    const values = parseList(row.values);
    req.grid[row.param] = values;
  }
  return req;
}

/** Runs the sweep expands to: variants x the cartesian product of the grid's value lists. */
export function runCount(form: FormState): number {
  return form.grid.reduce((n, row) => (row.param ? n * Math.max(0, parseList(row.values).length) : n), form.variants.length);
}

/** The sequence length the cost model is evaluated at: the base spec's, or the grid's largest. */
export function costSeqLen(form: FormState): number {
  const row = form.grid.find((r) => r.param === 'seqLen');
  const gridValues = row ? parseList(row.values).filter((v): v is number => typeof v === 'number') : [];
  if (gridValues.length > 0) return Math.max(...gridValues);
  const base = Number(form.kind === 'BENCHMARK' ? form.benchmark.seqLen : form.training.seqLen);
  return Number.isFinite(base) && base > 0 ? base : 1024;
}

/** Loads a request (a preset, or a run to re-run) back into the form. */
export function formFromRequest(req: CreateExperimentRequest, families: FamilySpec[]): FormState {
  const form = initialForm();
  form.name = req.name ?? '';
  form.description = req.description ?? '';
  form.kind = req.kind;
  form.priority = req.priority === undefined ? '' : String(req.priority);
  form.maxAttempts = req.maxAttempts === undefined ? '' : String(req.maxAttempts);
  form.variants = req.variants.map((v) => draftFromConfig(v, families.find((f) => f.family === v.family)));
  if (req.benchmark) {
    const b = req.benchmark;
    form.benchmark = {
      batch: b.batch === undefined ? '' : String(b.batch),
      seqLen: b.seqLen === undefined ? '' : String(b.seqLen),
      phases: b.phases ?? ['FORWARD', 'BACKWARD', 'DECODE'],
      scopes: b.scopes ?? ['CORE', 'LAYER'],
      causal: b.causal ?? true,
      dtype: b.dtype ?? 'bf16',
      warmup: b.warmup === undefined ? '' : String(b.warmup),
      iterations: b.iterations === undefined ? '' : String(b.iterations),
    };
  }
  if (req.training) {
    const t = req.training as Record<string, unknown>;
    form.training = emptyTraining();
    for (const f of TRAINING_FIELDS) if (t[f] !== undefined && t[f] !== null) form.training[f] = String(t[f]);
  }
  form.deterministic = (req.benchmark?.deterministic ?? req.training?.deterministic) === true;
  form.grid = Object.entries(req.grid ?? {}).map(([param, values]) => ({ uid: uid('g'), param, values: values.join(', ') }));
  return form;
}
