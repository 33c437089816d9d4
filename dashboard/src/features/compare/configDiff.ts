// The diff-only config table: of the flattened configs of the compared runs, only the keys whose values
// are not all equal. Keys missing from a run count as different from those that have them.

import { flatten } from '../runs/flatten';

export interface ConfigDiff {
  keys: string[];
  values: Record<string, Record<string, string>>;
}

export function diffConfigs(runs: { id: string; config: unknown }[]): ConfigDiff {
  const flat = runs.map((r) => ({ id: r.id, kv: flatten(r.config) }));
  const allKeys = new Set(flat.flatMap((f) => Object.keys(f.kv)));
  const keys = [...allKeys]
    .filter((k) => {
      const vals = flat.map((f) => (k in f.kv ? f.kv[k] : undefined));
      return vals.some((v) => v !== vals[0]);
    })
    .sort();
  const values: Record<string, Record<string, string>> = {};
  for (const f of flat) values[f.id] = Object.fromEntries(keys.map((k) => [k, f.kv[k] ?? '—']));
  return { keys, values };
}
