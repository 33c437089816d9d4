import { describe, expect, it } from 'vitest';
import { currentErrors, fieldId, mapFieldErrors, resolveField, valueAtPath } from './fieldErrors';

// The inputs the form registers (formPaths) for an mha, a gqa and a cca variant, a benchmark base and a seqLen axis.
const KNOWN = new Set([
  'name',
  'variants',
  'grid',
  'variants[0]',
  'variants[0].family',
  'variants[0].dModel',
  'variants[0].nHeads',
  'variants[1]',
  'variants[1].family',
  'variants[1].nHeads',
  'variants[1].nKvHeads',
  'variants[1].rope.fraction',
  'variants[2]',
  'variants[2].family',
  'variants[2].nHeads',
  'variants[2].headDim',
  'variants[2].conv.rope.fraction',
  'benchmark',
  'benchmark.seqLen',
  'benchmark.phases',
  'grid.seqLen',
]);

// Each case is a field as the api names it in a problem's errors[] (SweepExpander / RecordBinder paths, bean
// validation's property names), and the input it belongs on.
describe('resolveField', () => {
  it('matches the full paths the api names, nested records included', () => {
    expect(resolveField('name', KNOWN)).toBe('name');
    expect(resolveField('variants', KNOWN)).toBe('variants');
    expect(resolveField('variants[1].nKvHeads', KNOWN)).toBe('variants[1].nKvHeads');
    expect(resolveField('variants[1].rope.fraction', KNOWN)).toBe('variants[1].rope.fraction');
    expect(resolveField('variants[2].conv.rope.fraction', KNOWN)).toBe('variants[2].conv.rope.fraction');
    expect(resolveField('benchmark.seqLen', KNOWN)).toBe('benchmark.seqLen');
    expect(resolveField('grid', KNOWN)).toBe('grid');
  });

  it('puts the head-dim limit, which the api blames on nHeads, on the nHeads input', () => {
    // "the head dim dModel/nHeads must be <= 512, ...": the field is nHeads, not a composite "dModel/nHeads".
    expect(resolveField('variants[0].nHeads', KNOWN)).toBe('variants[0].nHeads');
  });

  it('maps a grid value or a list element to its axis or list', () => {
    expect(resolveField('grid.seqLen[2]', KNOWN)).toBe('grid.seqLen');
    expect(resolveField('benchmark.phases[0]', KNOWN)).toBe('benchmark.phases');
  });

  it('falls back to the nearest enclosing input for a key the form does not show', () => {
    // A rule of the grouped form a cca variant is built on, an unknown key of a nested record, a non-object record.
    expect(resolveField('variants[2].nKvHeads', KNOWN)).toBe('variants[2]');
    expect(resolveField('variants[2].conv.unknownThing', KNOWN)).toBe('variants[2]');
    expect(resolveField('variants[0].rope', KNOWN)).toBe('variants[0]');
    expect(resolveField('benchmark.colour', KNOWN)).toBe('benchmark');
  });

  it('gives up on paths outside the form', () => {
    expect(resolveField('body', KNOWN)).toBeUndefined();
    expect(resolveField('colour', KNOWN)).toBeUndefined();
    // An unknown top-level property ("seqLen: unknown property; expected name, ...") is the request's, not the base
    // spec's or the grid's: it is listed in the summary rather than beside a same-named input.
    expect(resolveField('seqLen', KNOWN)).toBeUndefined();
    expect(resolveField('training.steps', KNOWN)).toBeUndefined();
  });
});

describe('mapFieldErrors', () => {
  it('groups messages by input and keeps the unmatched for the summary', () => {
    const m = mapFieldErrors(
      [
        { field: 'colour', message: 'unknown property; expected name, description, kind, priority, maxAttempts, variants, grid, benchmark, training' },
        { field: 'name', message: 'must not be blank' },
        { field: 'variants[1].nKvHeads', message: 'must divide nHeads (4), got 3' },
        { field: 'benchmark.seqLen', message: 'must be in [1, 131072], got -5' },
        { field: 'grid', message: 'the sweep expands to 3 variants x 600 seqLen = 1800 runs, at most 1000 are allowed in one experiment' },
        { field: 'body', message: 'the request body must be a JSON object' },
        { field: '', message: 'no field' },
      ],
      KNOWN,
    );
    expect(m.byPath).toEqual({
      name: ['must not be blank'],
      'variants[1].nKvHeads': ['must divide nHeads (4), got 3'],
      'benchmark.seqLen': ['must be in [1, 131072], got -5'],
      grid: ['the sweep expands to 3 variants x 600 seqLen = 1800 runs, at most 1000 are allowed in one experiment'],
    });
    expect(m.unmatched.map((u) => u.field)).toEqual(['colour', 'body', '']);
  });

  it('prefixes the api path when the message lands on an enclosing input', () => {
    const m = mapFieldErrors(
      [
        { field: 'grid.seqLen[1]', message: 'must be in [1, 131072], got 0' },
        { field: 'variants[2].conv.unknownThing', message: 'unknown parameter, expected one of [convSeqKernel, convChannelKernel]' },
      ],
      KNOWN,
    );
    expect(m.byPath['grid.seqLen']).toEqual(['grid.seqLen[1]: must be in [1, 131072], got 0']);
    expect(m.byPath['variants[2]']).toEqual(['variants[2].conv.unknownThing: unknown parameter, expected one of [convSeqKernel, convChannelKernel]']);
  });

  it('shows the head-dim fault beside nHeads with its message as sent', () => {
    const message = 'the head dim dModel/nHeads must be <= 512, got 16384/1 = 16384; raise nHeads or lower dModel';
    const m = mapFieldErrors([{ field: 'variants[0].nHeads', message }], KNOWN);
    expect(m.byPath).toEqual({ 'variants[0].nHeads': [message] });
    expect(m.unmatched).toEqual([]);
  });

  it('shows a message once beside its input should it come twice', () => {
    const mapped = mapFieldErrors(
      [
        { field: 'variants[0].nHeads', message: 'must divide dModel (64), got 3' },
        { field: 'variants[0].nHeads', message: 'must divide dModel (64), got 3' },
        { field: 'variants[0].nHeads', message: 'must be in [1, 256], got 300' },
      ],
      KNOWN,
    );
    expect(mapped.byPath['variants[0].nHeads']).toEqual(['must divide dModel (64), got 3', 'must be in [1, 256], got 300']);
  });
});

describe('ids', () => {
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
