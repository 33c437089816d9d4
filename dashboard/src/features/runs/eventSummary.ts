// One line per event in the run's log: what the event says, without the envelope every event repeats.

const ENVELOPE = new Set(['eventId', 'runId', 'attempt', 'seq', 'time', 'type', 'workerId']);

export function eventSummary(type: string, payload: unknown): string {
  if (!payload || typeof payload !== 'object') return '';
  const p = payload as Record<string, unknown>;
  switch (type) {
    case 'STARTED': {
      const env = (p.environment ?? {}) as Record<string, unknown>;
      return [p.workerId && `worker ${p.workerId}`, env.backend && `backend ${env.backend}`, env.gpuModel && env.gpuModel !== 'none' && env.gpuModel !== 'unknown' && `${env.gpuModel}`].filter(Boolean).join(', ');
    }
    case 'METRICS': {
      const points = Array.isArray(p.metrics) ? (p.metrics as { name: string; step: number; value: number }[]) : [];
      if (points.length === 0) return '';
      const steps = points.map((x) => x.step);
      const names = [...new Set(points.map((x) => x.name))];
      return `${points.length} point${points.length === 1 ? '' : 's'} of ${names.join(', ')} at steps ${Math.min(...steps)}–${Math.max(...steps)}`;
    }
    case 'BENCHMARK_CELLS': {
      const cells = Array.isArray(p.cells) ? (p.cells as { phase: string; seqLen: number; p50Ms: number }[]) : [];
      return `${cells.length} cell${cells.length === 1 ? '' : 's'}${cells.length ? `: ${cells.map((c) => `${c.phase.toLowerCase()}@${c.seqLen} ${Number(c.p50Ms).toPrecision(3)} ms`).join(', ')}` : ''}`;
    }
    case 'CHECKPOINT': {
      const c = (p.checkpoint ?? {}) as Record<string, unknown>;
      return `step ${c.step} → ${c.uri}`;
    }
    case 'FAILED': {
      const f = (p.failure ?? {}) as Record<string, unknown>;
      const text = `${f.failureClass ?? ''} ${f.message ?? p.message ?? ''}`.trim();
      // The scheduler records an attempt whose worker went silent (LOST_WORKER) under its own name.
      return p.workerId === 'scheduler' ? `${text} (recorded by the scheduler)` : text;
    }
    case 'SUCCEEDED':
    case 'CANCELLED':
      // The worker's own words ("cancelled on request"), not the event's JSON.
      return typeof p.message === 'string' ? p.message : '';
    case 'HEARTBEAT':
      return '';
    default: {
      const rest = Object.fromEntries(Object.entries(p).filter(([k, v]) => !ENVELOPE.has(k) && v !== null && v !== undefined));
      return Object.keys(rest).length ? JSON.stringify(rest).slice(0, 240) : '';
    }
  }
}
