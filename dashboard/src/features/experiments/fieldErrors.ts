// Places the api's problem `errors[].field` paths (e.g. `variants[1].nKvHeads`, `grid.seqLen[2]`,
// `training.steps`) onto the form inputs that produced them. The form registers the path of every input
// it renders; an error lands on the most specific input that explains it, and only what matches no input
// is listed in the summary above the form.

import type { FieldError } from '../../shared/api/http';

export interface MappedErrors {
  byPath: Record<string, string[]>;
  unmatched: FieldError[];
}

/** DOM id of the input for a field path; stable, so an error message can point at it with aria-describedby. */
export function fieldId(path: string): string {
  return `f-${path.replace(/[^A-Za-z0-9]+/g, '-').replace(/-+$/, '')}`;
}

export function normalizePath(raw: string): string {
  return raw
    .trim()
    .replace(/^\$\.?/, '')
    .replace(/^(request|createExperimentRequest)\./, '')
    .replace(/\["?([A-Za-z_][\w.-]*)"?\]/g, '.$1')
    .replace(/->/g, '.')
    .replace(/^\./, '');
}

function lastSegment(path: string): string {
  const i = path.lastIndexOf('.');
  return i < 0 ? path : path.slice(i + 1);
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('.');
  return i < 0 ? '' : path.slice(0, i);
}

/** The nearest container a field belongs to: `variants[1].conv.rope.fraction` -> `variants[1]`. */
function containerOf(path: string): string {
  const m = path.match(/^(.*?\[\d+\])/);
  if (m) return m[1];
  const dot = path.indexOf('.');
  return dot < 0 ? '' : path.slice(0, dot);
}

export function resolveField(raw: string, known: ReadonlySet<string>): string | undefined {
  const path = normalizePath(raw);
  if (known.has(path)) return path;
  const noIndex = path.replace(/\[\d+\]$/, '');
  if (known.has(noIndex)) return noIndex;
  // Composite names such as "dModel/nHeads" blame the first input that exists.
  const last = lastSegment(noIndex);
  if (last.includes('/')) {
    const parent = parentOf(noIndex);
    for (const part of last.split('/')) {
      const candidate = parent ? `${parent}.${part}` : part;
      if (known.has(candidate)) return candidate;
    }
  }
  // A nested record's own check names only its field ("fraction"): find that field in the same container.
  const container = containerOf(noIndex);
  const sameLeaf = [...known].filter((k) => lastSegment(k) === last && (container === '' || k.startsWith(container + '.') || k.startsWith(container + '[')));
  if (sameLeaf.length > 0) return sameLeaf.sort((a, b) => a.length - b.length)[0];
  // Otherwise the closest enclosing input or section (e.g. the variant card for `variants[1]`).
  let prefix = noIndex;
  while (prefix) {
    const next = prefix.includes('.') ? parentOf(prefix) : prefix.replace(/\[\d+\]$/, '') === prefix ? '' : prefix.replace(/\[\d+\]$/, '');
    if (known.has(prefix)) return prefix;
    prefix = next;
  }
  return undefined;
}

export function mapFieldErrors(errors: FieldError[], known: Iterable<string>): MappedErrors {
  const knownSet = new Set(known);
  const byPath: Record<string, string[]> = {};
  const unmatched: FieldError[] = [];
  // One message once per input: the api may name one fault under two paths (variant.nHeads and
  // variant.dModel/nHeads) or twice (a record's check and its field's), which would read twice beside it.
  const said = new Map<string, Set<string>>();
  for (const e of errors) {
    const target = e.field ? resolveField(e.field, knownSet) : undefined;
    if (target === undefined) {
      unmatched.push(e);
      continue;
    }
    const seen = said.get(target) ?? new Set<string>();
    said.set(target, seen);
    if (seen.has(e.message)) continue;
    seen.add(e.message);
    const normalized = normalizePath(e.field);
    const message = normalized === target ? e.message : `${normalized}: ${e.message}`;
    (byPath[target] ??= []).push(message);
  }
  return { byPath, unmatched };
}

/** The value at a request path (`variants[1].nKvHeads`, `grid.seqLen`, `benchmark`), or undefined. */
export function valueAtPath(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const part of path.split(/\.|(?=\[)/).filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const index = part.match(/^\[(\d+)\]$/);
    cur = index ? (Array.isArray(cur) ? cur[Number(index[1])] : undefined) : (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * The errors of a submission that still speak about the request: an error whose path holds another value now
 * than in the submitted request was about a value the user has since changed, and goes.
 */
export function currentErrors(errors: Record<string, string[]>, submitted: unknown, now: unknown): Record<string, string[]> {
  if (submitted === undefined) return errors;
  const kept = Object.entries(errors).filter(([path]) => JSON.stringify(valueAtPath(submitted, path)) === JSON.stringify(valueAtPath(now, path)));
  return kept.length === Object.keys(errors).length ? errors : Object.fromEntries(kept);
}
