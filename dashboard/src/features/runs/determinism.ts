import type { EnvironmentFingerprint } from '../../shared/api/types';

interface SpecLike {
  benchmark?: { deterministic?: boolean } | null;
  training?: { deterministic?: boolean } | null;
}

/**
 * What the run detail says about its backward's determinism: what the run asked for (its spec) and what its latest
 * attempt recorded (the worker's fingerprint: the CPU backend is deterministic by construction; a CUDA worker is
 * when the run or its -Dccalab.flash.deterministic default asks).
 */
export function determinismSummary(spec: SpecLike | undefined | null, envs: EnvironmentFingerprint[]): string {
  const asked = (spec?.benchmark?.deterministic ?? spec?.training?.deterministic) === true;
  const request = asked ? 'requested' : 'not requested';
  const env = envs.length > 0 ? envs[envs.length - 1] : undefined;
  if (!env) return `${request}; not started yet`;
  const recorded = env.deterministicBackward;
  if (recorded === undefined || recorded === null) return `${request}; not recorded by the worker`;
  if (!recorded) return `${request}; no (atomic-order ${env.backend ?? 'GPU'} backward)`;
  if (env.backend === 'cpu') return `${request}; yes (CPU backend: deterministic by construction)`;
  return asked ? `${request}; yes (ordered-add ${env.backend ?? 'GPU'} backward)` : `${request}; yes (the worker's default: -Dccalab.flash.deterministic)`;
}
