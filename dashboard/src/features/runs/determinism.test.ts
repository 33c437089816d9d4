import { describe, expect, it } from 'vitest';
import { determinismSummary } from './determinism';

describe('determinismSummary', () => {
  it('says what the run asked for and what its latest attempt recorded', () => {
    const det = { training: { deterministic: true } };
    expect(determinismSummary(det, [])).toBe('requested; not started yet');
    expect(determinismSummary(det, [{ attempt: 1, backend: 'cuda', deterministicBackward: true }])).toBe('requested; yes (ordered-add cuda backward)');
    expect(determinismSummary(det, [{ attempt: 1, backend: 'cpu', deterministicBackward: true }])).toBe(
      'requested; yes (CPU backend: deterministic by construction)',
    );
    expect(determinismSummary({ benchmark: { deterministic: false } }, [{ backend: 'cuda', deterministicBackward: false }])).toBe(
      'not requested; no (atomic-order cuda backward)',
    );
    expect(determinismSummary({ benchmark: {} }, [{ backend: 'cuda', deterministicBackward: true }])).toBe(
      "not requested; yes (the worker's default: -Dccalab.flash.deterministic)",
    );
    expect(determinismSummary(det, [{ backend: 'cuda', deterministicBackward: null }, { backend: 'cpu' }])).toBe('requested; not recorded by the worker');
    expect(determinismSummary(undefined, [{ backend: 'cpu', deterministicBackward: true }, { backend: 'cuda', deterministicBackward: false }])).toBe(
      'not requested; no (atomic-order cuda backward)',
    );
  });
});
