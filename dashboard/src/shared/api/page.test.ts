import { describe, expect, it } from 'vitest';
import { toList, toPage } from './page';

describe('toPage', () => {
  it('reads a Spring Page', () => {
    const p = toPage<{ id: string }>({ content: [{ id: 'a' }], number: 2, size: 10, totalElements: 31 });
    expect(p).toEqual({ items: [{ id: 'a' }], page: 2, size: 10, total: 31 });
  });

  it('reads a PagedModel with a nested page block', () => {
    const p = toPage({ content: [1, 2], page: { size: 2, number: 1, totalElements: 9, totalPages: 5 } });
    expect(p).toEqual({ items: [1, 2], page: 1, size: 2, total: 9 });
  });

  it('reads an items/total record', () => {
    expect(toPage({ items: ['x'], page: 0, size: 50, total: 1 })).toEqual({ items: ['x'], page: 0, size: 50, total: 1 });
  });

  it('treats a bare array as one page', () => {
    expect(toPage([1, 2, 3])).toEqual({ items: [1, 2, 3], page: 0, size: 3, total: 3 });
  });

  it('answers an empty page for nonsense', () => {
    expect(toPage(null, 25)).toEqual({ items: [], page: 0, size: 25, total: 0 });
  });
});

describe('toList', () => {
  it('finds the array under a named key', () => {
    expect(toList({ cells: [1] }, 'cells')).toEqual([1]);
    expect(toList({ items: [2] })).toEqual([2]);
    expect(toList('nope')).toEqual([]);
  });
});
