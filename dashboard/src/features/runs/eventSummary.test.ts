import { describe, expect, it } from 'vitest';
import { eventSummary } from './eventSummary';

describe('eventSummary', () => {
  it('summarizes each event type without the envelope', () => {
    expect(eventSummary('STARTED', { runId: 'r', workerId: 'worker-1', environment: { backend: 'cpu', gpuModel: 'none' } })).toBe('worker worker-1, backend cpu');
    expect(
      eventSummary('METRICS', {
        runId: 'r',
        metrics: [
          { name: 'train/loss', step: 3, value: 1 },
          { name: 'lr', step: 5, value: 1 },
        ],
      }),
    ).toBe('2 points of train/loss, lr at steps 3–5');
    expect(eventSummary('CHECKPOINT', { checkpoint: { step: 15, uri: 'file:///c/15' } })).toBe('step 15 → file:///c/15');
    expect(eventSummary('FAILED', { failure: { failureClass: 'DIVERGED', message: 'loss is NaN at step 7' } })).toBe('DIVERGED loss is NaN at step 7');
    expect(eventSummary('BENCHMARK_CELLS', { cells: [{ phase: 'FORWARD', seqLen: 32, p50Ms: 1.2345 }] })).toBe('1 cell: forward@32 1.23 ms');
    expect(eventSummary('SUCCEEDED', { runId: 'r', seq: 6, time: 't', eventId: 'e' })).toBe('');
    expect(eventSummary('CANCELLED', { runId: 'r', message: 'stopped by request' })).toBe('stopped by request');
    expect(eventSummary('CANCELLED', { runId: 'r', workerId: 'w' })).toBe('');
    expect(eventSummary('FAILED', { workerId: 'scheduler', failure: { failureClass: 'LOST_WORKER', message: 'no heartbeat' } })).toBe('LOST_WORKER no heartbeat (recorded by the scheduler)');
  });
});
