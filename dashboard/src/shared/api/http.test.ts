import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, http, toProblem } from './http';

afterEach(() => vi.unstubAllGlobals());

describe('toProblem', () => {
  it('keeps the RFC 9457 fields and the field errors', () => {
    const p = toProblem(400, 'Bad Request', {
      type: 'https://ccalab.org/problems/invalid-config',
      title: 'Invalid configuration',
      status: 400,
      detail: 'nKvHeads must divide nHeads',
      errors: [{ field: 'variants[1].nKvHeads', message: 'must divide nHeads (16), got 5' }],
    });
    expect(p.title).toBe('Invalid configuration');
    expect(p.errors).toEqual([{ field: 'variants[1].nKvHeads', message: 'must divide nHeads (16), got 5' }]);
  });

  it('survives an HTML error page', () => {
    const p = toProblem(502, 'Bad Gateway', '<html>proxy</html>');
    expect(p).toMatchObject({ status: 502, title: 'Bad Gateway', errors: [] });
  });
});

describe('http', () => {
  it('throws an ApiError carrying the problem on a 400', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(JSON.stringify({ title: 'Invalid', status: 400, errors: [{ field: 'name', message: 'must not be blank' }] }), { status: 400, headers: { 'Content-Type': 'application/problem+json' } })),
    );
    const err = await http.post('/api/experiments', {}).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).problem.errors[0].field).toBe('name');
  });

  it('sends JSON and parses the answer', async () => {
    const fetchMock = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify({ id: 'e1' }), { status: 201 }));
    vi.stubGlobal('fetch', fetchMock);
    const body = await http.post<{ id: string }>('/api/experiments', { name: 'x' });
    expect(body.id).toBe('e1');
    const init = fetchMock.mock.calls[0][1]!;
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ name: 'x' });
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('reports an unreachable api as status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const err = (await http.get('/api/runs').catch((e) => e)) as ApiError;
    expect(err.problem.status).toBe(0);
    expect(err.problem.title).toMatch(/cannot be reached/);
  });
});
