import { vi } from 'vitest';

export interface Call {
  method: string;
  url: string;
  body: unknown;
}

type Handler = (call: Call) => { status?: number; body: unknown } | undefined;

/**
 * A fetch double that answers by method and path, records every call, and answers 404 problem details for
 * anything unrouted, so a test fails loudly on a request it did not expect to matter.
 */
export function fakeApi(routes: Record<string, Handler | { status?: number; body: unknown }>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    const call = { method, url, body };
    calls.push(call);
    const path = url.split('?')[0];
    for (const [key, handler] of Object.entries(routes)) {
      const [m, p] = key.split(' ');
      const pattern = new RegExp(`^${p.replace(/:[a-zA-Z]+/g, '[^/]+')}$`);
      if (m !== method || !pattern.test(path)) continue;
      const answer = typeof handler === 'function' ? handler(call) : handler;
      if (!answer) continue;
      return new Response(JSON.stringify(answer.body), { status: answer.status ?? 200, headers: { 'Content-Type': 'application/json' } });
    }
    return new Response(JSON.stringify({ title: 'Not Found', status: 404, detail: `${method} ${path}` }), { status: 404 });
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls, fetchMock };
}

/** jsdom has no EventSource; this one lets a test push server events. */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  url: string;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  closed = false;

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }

  addEventListener(name: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
  }

  close() {
    this.closed = true;
  }

  open() {
    this.onopen?.();
  }

  emit(name: string, data: unknown) {
    for (const fn of this.listeners.get(name) ?? []) fn(new MessageEvent(name, { data: JSON.stringify(data) }));
  }
}
