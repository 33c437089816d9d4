// The diff-only config table: of the flattened configs of the compared runs, only the keys whose values
// are not all equal. Keys missing from a run count as different from those that have them; keys empty (missing or
// null) for every run are left out.

import { flatten } from '../runs/flatten';

export interface ConfigDiff {
  keys: string[];
  values: Record<string, Record<string, string>>;
}

export function diffConfigs(runs: { id: string; config: unknown }[]): ConfigDiff {
  const flat = runs.map((r) => ({ id: r.id, kv: flatten(r.config) }));
  const allKeys = new Set(flat.flatMap((f) => Object.keys(f.kv)));
  // A null section (the `benchmark` of a training run) is as empty as a missing one: a key empty for every run,
  // as `benchmark` and `training` are when kinds mix, says nothing and is left out.
  const valueOf = (kv: Record<string, string>, k: string) => (k in kv && kv[k] !== '' ? kv[k] : undefined);
  const keys = [...allKeys]
    .filter((k) => {
      const vals = flat.map((f) => valueOf(f.kv, k));
      return vals.some((v) => v !== undefined) && vals.some((v) => v !== vals[0]);
    })
    .sort();
  const values: Record<string, Record<string, string>> = {};
  for (const f of flat) values[f.id] = Object.fromEntries(keys.map((k) => [k, valueOf(f.kv, k) ?? '—']));
  return { keys, values };
}
