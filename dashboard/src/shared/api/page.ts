// The api pages lists server-side. Spring answers pages in more than one shape (a Page, a PagedModel, a
// hand-written record); this reads any of them so the tables do not break on the serializer's choice.

export interface Page<T> {
  items: T[];
  page: number;
  size: number;
  total: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function toPage<T>(body: unknown, fallbackSize = 50): Page<T> {
  if (Array.isArray(body)) return { items: body as T[], page: 0, size: body.length, total: body.length };
  if (!body || typeof body !== 'object') return { items: [], page: 0, size: fallbackSize, total: 0 };
  const b = body as Record<string, unknown>;
  const embedded = b._embedded && typeof b._embedded === 'object' ? Object.values(b._embedded as object)[0] : undefined;
  const items = (b.items ?? b.content ?? b.data ?? b.runs ?? b.experiments ?? embedded ?? []) as T[];
  const meta = (b.page && typeof b.page === 'object' ? b.page : b) as Record<string, unknown>;
  const size = num(meta.size) ?? fallbackSize;
  const page = num(meta.number) ?? num(meta.page) ?? 0;
  const total = num(meta.totalElements) ?? num(meta.total) ?? num(meta.totalCount) ?? items.length;
  return { items: Array.isArray(items) ? items : [], page, size, total };
}

/** A list endpoint that may answer a bare array or an object holding one under a known key. */
export function toList<T>(body: unknown, ...keys: string[]): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const k of [...keys, 'items', 'content', 'data']) if (Array.isArray(b[k])) return b[k] as T[];
  }
  return [];
}
