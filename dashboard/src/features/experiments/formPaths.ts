import type { FamilySpec } from './catalog';
import { TRAINING_FIELDS, type FormState } from './form';

/** Every request path the form renders an input or a section for: the targets api errors can land on. */
export function formPaths(form: FormState, families: FamilySpec[]): string[] {
  const paths = ['name', 'description', 'kind', 'priority', 'maxAttempts', 'variants', 'grid'];
  form.variants.forEach((v, i) => {
    paths.push(`variants[${i}]`, `variants[${i}].family`);
    for (const p of families.find((f) => f.family === v.family)?.parameters ?? []) paths.push(`variants[${i}].${p.name}`);
  });
  if (form.kind === 'BENCHMARK') {
    paths.push('benchmark', ...['batch', 'seqLen', 'phases', 'scopes', 'causal', 'dtype', 'warmup', 'iterations', 'deterministic'].map((f) => `benchmark.${f}`));
  } else {
    paths.push('training', ...TRAINING_FIELDS.map((f) => `training.${f}`), 'training.deterministic');
  }
  for (const row of form.grid) if (row.param) paths.push(`grid.${row.param}`);
  return paths;
}
