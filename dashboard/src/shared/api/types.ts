// The wire model the dashboard reads (org.ccalab.common and the api's responses, docs/contracts.md).

export const FAMILIES = ['mha', 'gqa', 'mla', 'cca', 'ccgqa', 'ovq'] as const;
export type Family = (typeof FAMILIES)[number];

export const RUN_STATUSES = ['QUEUED', 'DISPATCHED', 'RUNNING', 'RETRYING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: readonly string[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

export const FAILURE_CLASSES = ['LOST_WORKER', 'DEVICE_ERROR', 'OUT_OF_MEMORY', 'INVALID_CONFIG', 'DIVERGED', 'CODE_ERROR'] as const;
export const PHASES = ['FORWARD', 'BACKWARD', 'DECODE'] as const;
export const SCOPES = ['CORE', 'LAYER'] as const;
export const DTYPES = ['bf16', 'fp16', 'fp32', 'fp64'] as const;

export type RunKind = 'BENCHMARK' | 'TRAINING';

/** A sealed AttentionConfig on the wire: `family` picks the record, the rest are its parameters. */
export interface AttentionConfig {
  family: Family;
  dModel: number;
  [param: string]: unknown;
}

export interface BenchmarkBase {
  batch?: number;
  seqLen?: number;
  phases?: string[];
  scopes?: string[];
  causal?: boolean;
  dtype?: string;
  warmup?: number;
  iterations?: number;
  /** Time a backward that gives the same bits on every run (default false). */
  deterministic?: boolean;
}

export interface TrainingBase {
  /** Every backward gives the same bits on every run (default false). */
  deterministic?: boolean;
  dataset?: string;
  tokenizer?: string;
  nLayers?: number;
  seqLen?: number;
  batch?: number;
  steps?: number;
  learningRate?: number;
  warmupSteps?: number;
  weightDecay?: number;
  gradClip?: number;
  evalEvery?: number;
  checkpointEvery?: number;
  mlpHidden?: number;
}

export interface CreateExperimentRequest {
  name: string;
  description?: string;
  kind: RunKind;
  priority?: number;
  maxAttempts?: number;
  variants: AttentionConfig[];
  grid: Record<string, (number | string | boolean)[]>;
  benchmark?: BenchmarkBase;
  training?: TrainingBase;
}

export interface Links {
  [rel: string]: string | { href: string };
}

export interface CreatedExperiment {
  id: string;
  name: string;
  kind: RunKind;
  status: string;
  runCount: number;
  runs: { id: string; family: string; status: string }[];
  _links?: Links;
}

export interface Experiment {
  id: string;
  name: string;
  description?: string;
  kind: RunKind;
  status: string;
  priority?: number;
  runCount?: number;
  /** Runs per status, lower-case keys (queued, running, succeeded, ...) plus total. */
  runCounts?: Record<string, number>;
  request?: CreateExperimentRequest;
  createdAt?: string;
  updatedAt?: string;
  cancelRequestedAt?: string | null;
}

export interface RunSpec {
  kind: RunKind;
  variant: AttentionConfig;
  seed: number;
  benchmark?: BenchmarkBase | null;
  training?: TrainingBase | null;
}

export interface RunSummary {
  id: string;
  experimentId?: string;
  experimentName?: string;
  ordinal?: number;
  kind: RunKind;
  family: string;
  status: string;
  attempt?: number;
  maxAttempts?: number;
  workerId?: string | null;
  failureClass?: string | null;
  failureMessage?: string | null;
  seed?: number;
  configHash?: string;
  variant?: AttentionConfig;
  spec?: RunSpec;
  /** The run's point of its experiment's sweep: each key of the submission's grid with this run's value. */
  grid?: Record<string, unknown> | null;
  priority?: number;
  createdAt?: string;
  dispatchedAt?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  lastHeartbeatAt?: string | null;
}

export interface EnvironmentFingerprint {
  attempt?: number;
  gitCommit?: string;
  gitDirty?: boolean;
  engineVersion?: string;
  kernelBuildHash?: string;
  backend?: string;
  gpuModel?: string;
  driverVersion?: string;
  cudaVersion?: string;
  jvm?: string;
  host?: string;
  /** Whether this attempt's backward was deterministic; null/absent: the worker did not record it. */
  deterministicBackward?: boolean | null;
}

export interface Checkpoint {
  step: number;
  uri: string;
  sha256?: string;
  bytes?: number;
  createdAt?: string;
}

export interface RunDetail extends RunSummary {
  spec: RunSpec;
  environment?: EnvironmentFingerprint | null;
  environments?: EnvironmentFingerprint[];
  checkpoints?: Checkpoint[];
  metricNames?: string[];
  lastCheckpointUri?: string | null;
}

export interface MetricPoint {
  step: number;
  value: number;
  tokens?: number;
  elapsedS?: number;
}

export interface BenchmarkCell {
  phase: string;
  scope: string;
  causal: boolean;
  batch: number;
  seqLen: number;
  dtype: string;
  backend?: string;
  p10Ms?: number;
  p50Ms: number;
  p90Ms?: number;
  tflops?: number;
  bytesPerSecond?: number;
  peakMemoryBytes?: number;
  kvBytesPerToken?: number;
  maxAbsError?: number | null;
  maxRelError?: number | null;
}

export interface RunEventRow {
  attempt: number;
  seq: number;
  type: string;
  time: string;
  payload?: unknown;
}

export interface CostEstimate {
  parameters?: number;
  kvBytesPerToken?: number;
  decodeStateBytes?: number;
  prefillFlops?: number;
  prefillFlopsCausal?: number;
  decodeFlops?: number;
  [key: string]: unknown;
}

export interface ParameterDescriptor {
  name: string;
  type: string;
  default?: unknown;
  defaultValue?: unknown;
  min?: number;
  max?: number;
  description?: string;
}

export interface CatalogFamily {
  family: string;
  parameters: ParameterDescriptor[];
  defaultConfig?: AttentionConfig;
  presets?: { name: string; config: AttentionConfig }[];
}

export interface QueueEntry {
  runId: string;
  experimentId?: string;
  experimentName?: string;
  family?: string;
  kind?: string;
  status: string;
  priority?: number;
  attempt?: number;
  workerId?: string | null;
  createdAt?: string;
  startedAt?: string | null;
  /** From creation to dispatch (to now while still waiting). */
  waitSeconds?: number;
  /** Since the run started, while it runs; null otherwise. */
  runningSeconds?: number | null;
}

export interface Worker {
  id: string;
  backend?: string;
  device?: string;
  deviceMemoryBytes?: number;
  engineVersion?: string;
  host?: string;
  lastSeenAt?: string;
  currentRunId?: string | null;
}

export interface DeadLetter {
  id: string | number;
  topic: string;
  recordKey?: string;
  error?: string;
  receivedAt?: string;
}
