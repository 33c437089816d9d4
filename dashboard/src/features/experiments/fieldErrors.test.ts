import { describe, expect, it } from 'vitest';
import { currentErrors, fieldId, mapFieldErrors, normalizePath, resolveField, valueAtPath } from './fieldErrors';

const KNOWN = new Set([
  'name',
  'variants',
  'grid',
  'variants[0]',
  'variants[0].dModel',
  'variants[0].nHeads',
  'variants[1]',
  'variants[1].nHeads',
  'variants[1].nKvHeads',
  'variants[1].rope.fraction',
  'variants[2]',
  'variants[2].conv.rope.fraction',
  'benchmark.seqLen',
  'grid.seqLen',
  'training.steps',
]);

describe('resolveField', () => {
  it('matches an exact path', () => {
    expect(resolveField('variants[1].nKvHeads', KNOWN)).toBe('variants[1].nKvHeads');
    expect(resolveField('training.steps', KNOWN)).toBe('training.steps');
  });

  it('maps a grid value index to its axis', () => {
    expect(resolveField('grid.seqLen[2]', KNOWN)).toBe('grid.seqLen');
    expect(resolveField('grid[seqLen]', KNOWN)).toBe('grid.seqLen');
  });

  it('finds a nested record field named only by its leaf in the same variant', () => {
    expect(resolveField('variants[1].fraction', KNOWN)).toBe('variants[1].rope.fraction');
    expect(resolveField('variants[2].fraction', KNOWN)).toBe('variants[2].conv.rope.fraction');
  });

  it('blames the first input of a composite name', () => {
    expect(resolveField('variants[0].dModel/nHeads', KNOWN)).toBe('variants[0].dModel');
  });

  it('falls back to the enclosing variant card', () => {
    expect(resolveField('variants[1].family', KNOWN)).toBe('variants[1]');
    expect(resolveField('variants[2].conv.unknownThing', KNOWN)).toBe('variants[2]');
  });

  it('gives up on paths outside the form', () => {
    expect(resolveField('somethingElse', KNOWN)).toBeUndefined();
  });
});

describe('mapFieldErrors', () => {
  it('groups messages by input and keeps the unmatched for the summary', () => {
    const m = mapFieldErrors(
      [
        { field: 'variants[1].nKvHeads', message: 'must divide nHeads' },
        { field: 'variants[1].nKvHeads', message: 'must be positive' },
        { field: 'grid', message: 'expands to 1200 runs, more than 1000' },
        { field: 'bogus.path', message: 'odd' },
        { field: '', message: 'no field' },
      ],
      KNOWN,
    );
    expect(m.byPath['variants[1].nKvHeads']).toEqual(['must divide nHeads', 'must be positive']);
    expect(m.byPath.grid).toEqual(['expands to 1200 runs, more than 1000']);
    expect(m.unmatched.map((u) => u.message)).toEqual(['odd', 'no field']);
  });

  it('prefixes the original path when the message lands on an enclosing input', () => {
    const m = mapFieldErrors([{ field: 'grid.seqLen[1]', message: 'must be <= 131072' }], KNOWN);
    expect(m.byPath['grid.seqLen']).toEqual(['grid.seqLen[1]: must be <= 131072']);
  });
});

describe('paths and ids', () => {
  it('normalizes JSON-pointer-ish prefixes', () => {
    expect(normalizePath('$.variants[0].nHeads')).toBe('variants[0].nHeads');
    expect(normalizePath('request.name')).toBe('name');
  });
  it('makes ids safe and distinct', () => {
    expect(fieldId('variants[1].nKvHeads')).toBe('f-variants-1-nKvHeads');
    expect(fieldId('variants[1].nKvHeads')).not.toBe(fieldId('variants[11].nKvHeads'));
  });
});

describe('currentErrors', () => {
  const submitted = { name: '', variants: [{ family: 'mha', nHeads: 3 }], grid: { seqLen: [256] } };
  const errors = { name: ['must not be blank'], 'variants[0].nHeads': ['must divide dModel'], 'grid.seqLen': ['too long'] };

  it('reads request paths with indexes and dots', () => {
    expect(valueAtPath(submitted, 'variants[0].nHeads')).toBe(3);
    expect(valueAtPath(submitted, 'grid.seqLen')).toEqual([256]);
    expect(valueAtPath(submitted, 'variants[3].nHeads')).toBeUndefined();
  });

  it('keeps the errors of unchanged fields and drops those of changed ones', () => {
    expect(currentErrors(errors, submitted, submitted)).toBe(errors);
    const now = { ...submitted, name: 'x', variants: [{ family: 'mha', nHeads: 4 }] };
    expect(currentErrors(errors, submitted, now)).toEqual({ 'grid.seqLen': ['too long'] });
  });

  it('keeps everything when nothing was submitted', () => {
    expect(currentErrors(errors, undefined, { name: 'x' })).toBe(errors);
  });
});

describe('mapFieldErrors duplicates', () => {
  it('shows one fault once beside its input, whatever path or count the api used', () => {
    const known = ['variants[0].dModel', 'variants[0].nHeads'];
    const mapped = mapFieldErrors(
      [
        { field: 'variants[0].nHeads', message: 'must divide dModel (64), got 3' },
        { field: 'variants[0].nHeads', message: 'must divide dModel (64), got 3' },
        { field: 'variants[0].dModel/nHeads', message: 'must divide dModel (64), got 3' },
        { field: 'variants[0].nHeads', message: 'must be at most 64' },
      ],
      known,
    );
    expect(mapped.byPath['variants[0].nHeads']).toEqual(['must divide dModel (64), got 3', 'must be at most 64']);
  });
});
