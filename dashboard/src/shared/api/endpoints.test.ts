import { describe, expect, it } from 'vitest';
import { endpoints, withQuery } from './endpoints';

describe('withQuery', () => {
  it('drops empty values and joins lists', () => {
    expect(withQuery('/api/runs', { status: 'FAILED', family: '', page: 0, q: undefined, ids: ['a', 'b'] })).toBe('/api/runs?status=FAILED&page=0&ids=a%2Cb');
  });
  it('leaves a path without parameters alone', () => {
    expect(withQuery('/api/runs', {})).toBe('/api/runs');
  });
  it('escapes ids inside paths', () => {
    expect(endpoints.run('a/b')).toBe('/api/runs/a%2Fb');
  });
});
