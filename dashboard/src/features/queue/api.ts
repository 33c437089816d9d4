// Typed client of the queue, the workers and the dead letters.

import { endpoints } from '../../shared/api/endpoints';
import { http } from '../../shared/api/http';
import { toList } from '../../shared/api/page';
import type { DeadLetter, QueueEntry, Worker } from '../../shared/api/types';

export interface QueueView {
  entries: QueueEntry[];
  counts: Record<string, number>;
}

/** The queue as rows, whether the api answers a list, {items}, or {queued:[...], running:[...]}. */
export function toQueue(body: unknown): QueueView {
  let entries: QueueEntry[] = toList<QueueEntry>(body, 'entries', 'runs');
  if (entries.length === 0 && body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    entries = ['running', 'dispatched', 'retrying', 'queued'].flatMap((k) =>
      Array.isArray(b[k]) ? (b[k] as QueueEntry[]).map((e) => ({ ...e, status: e.status ?? k.toUpperCase() })) : [],
    );
  }
  entries = entries.map((e) => ({ ...e, runId: e.runId ?? (e as unknown as { id: string }).id }));
  const counts: Record<string, number> = {};
  for (const e of entries) counts[e.status] = (counts[e.status] ?? 0) + 1;
  // The api lists at most a few hundred items but counts all of them: prefer its totals.
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    for (const k of ['queued', 'retrying', 'dispatched', 'running']) if (typeof b[k] === 'number') counts[k.toUpperCase()] = b[k] as number;
  }
  return { entries, counts };
}

export const queueApi = {
  queue: async (signal?: AbortSignal) => toQueue(await http.get(endpoints.queue, signal)),
  workers: async (signal?: AbortSignal) => toList<Worker>(await http.get(endpoints.workers, signal), 'workers'),
  deadLetters: async (signal?: AbortSignal) => toList<DeadLetter>(await http.get(endpoints.deadLetters, signal), 'deadLetters').map((d) => ({ ...d, recordKey: d.recordKey ?? (d as { key?: string }).key })),
};
