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

/** The path one step out: `variants[1].conv.rope` -> `variants[1].conv`, `variants[1]` -> `variants`, `grid` -> ''. */
function enclosingPath(path: string): string {
  const m = path.match(/^(.*)(\.[^.[\]]+|\[\d+\])$/);
  return m ? m[1] : '';
}

/**
 * The input an api field path belongs on. The api names every fault by its full path in the request, as the form
 * registers its inputs (`variants[1].nKvHeads`, `variants[0].conv.rope.fraction`, `benchmark.seqLen`); the head-dim
 * limit, too, is at a real field (`variants[0].nHeads`). A path the form has no input for lands on the nearest
 * enclosing one: a grid value or list element on its axis or list (`grid.seqLen[2]` -> `grid.seqLen`,
 * `benchmark.phases[0]` -> `benchmark.phases`), a fault of a variant's key the form does not show (an unknown key,
 * a non-object `conv`, a rule of another family's field such as a cca variant's `nKvHeads`) on the variant card.
 */
export function resolveField(field: string, known: ReadonlySet<string>): string | undefined {
  for (let path = field; path; path = enclosingPath(path)) {
    if (known.has(path)) return path;
  }
  return undefined;
}

export function mapFieldErrors(errors: FieldError[], known: Iterable<string>): MappedErrors {
  const knownSet = new Set(known);
  const byPath: Record<string, string[]> = {};
  const unmatched: FieldError[] = [];
  // One message once per input: the api names each fault once, but an input keeps a single copy should one come twice.
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
    const message = e.field === target ? e.message : `${e.field}: ${e.message}`;
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
