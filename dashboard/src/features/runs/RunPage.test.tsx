import { act, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource, fakeApi } from '../../test/fakeApi';
import { RunPage } from './RunPage';

let status = 'RUNNING';
let attempt = 1;
let failure: { failureClass?: string | null; message?: string } | undefined;
let points = [{ step: 1, value: 4 }];
let environments: object[] = [{ attempt: 1, backend: 'cpu', host: 'box', deterministicBackward: true }];
let events: object[] = [{ attempt: 1, seq: 1, type: 'STARTED', time: '2026-01-01T00:00:00Z', payload: { workerId: 'w1' } }];

beforeEach(() => {
  status = 'RUNNING';
  attempt = 1;
  failure = undefined;
  points = [{ step: 1, value: 4 }];
  environments = [{ attempt: 1, backend: 'cpu', host: 'box', deterministicBackward: true }];
  events = [{ attempt: 1, seq: 1, type: 'STARTED', time: '2026-01-01T00:00:00Z', payload: { workerId: 'w1' } }];
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  fakeApi({
    'GET /api/runs/r1': () => ({
      body: {
        id: 'r1',
        experimentId: 'e1',
        experimentName: 'tiny',
        kind: 'TRAINING',
        family: 'gqa',
        status,
        attempt,
        maxAttempts: 3,
        spec: { kind: 'TRAINING', seed: 1, variant: { family: 'gqa', dModel: 32, nHeads: 2, nKvHeads: 1 }, training: { steps: 30, seqLen: 16, deterministic: true }, benchmark: null },
        environments,
        checkpoints: [{ step: 15, uri: 'file:///ck/15', sha256: 'abc', bytes: 2048 }],
        metrics: [{ name: 'train/loss' }],
        failure: failure ?? (status === 'FAILED' ? { failureClass: 'DIVERGED', message: 'loss is NaN at step 3' } : undefined),
      },
    }),
    'GET /api/runs/r1/metrics': () => ({ body: { runId: 'r1', series: [{ name: 'train/loss', points }] } }),
    // As the api: the dtype asked, else its default bf16, echoed beside the estimate.
    'POST /api/variants/cost': (c) => ({ body: { dtype: (c.body as { dtype?: string }).dtype ?? 'bf16', cost: { parameters: 3072, kvCacheBytesPerToken: 64, seqLen: (c.body as { seqLen: number }).seqLen } } }),
    'GET /api/runs/r1/events': () => ({ body: { items: events, page: 0, size: 1000, totalElements: events.length } }),
  });
});
afterEach(() => vi.unstubAllGlobals());

function renderRun() {
  return render(
    <MemoryRouter initialEntries={['/runs/r1']}>
      <Routes>
        <Route path="/runs/:id" element={<RunPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

const pathPoints = () => (document.querySelector('[data-testid="chart-train/loss"] g.series path')?.getAttribute('d')?.match(/[ML]/g) ?? []).length;

describe('RunPage', () => {
  it('redraws the metric chart when the live stream reports new points, without a reload', async () => {
    renderRun();
    await screen.findByText('file:///ck/15');
    expect(screen.getByText('worker w1')).toBeInTheDocument();
    expect(screen.getByTestId('deterministic')).toHaveTextContent('requested; yes (CPU backend: deterministic by construction)');
    // The exact cost of the run's variant at its sequence length sits beside the measurements.
    expect(await screen.findByText('3.07k', {}, { timeout: 2000 })).toBeInTheDocument();
    const cost = screen.getByLabelText('Cost model at S = 16');
    // A training run computes in fp64 on the CPU; the KV figure is the cost model's at the dtype it was asked (its default).
    expect(within(cost).getByText('KV bytes / token (bf16)').nextElementSibling).toHaveTextContent('64 B');
    await waitFor(() => expect(pathPoints()).toBe(1));
    const es = FakeEventSource.instances.find((e) => e.url === '/api/live/runs/r1')!;
    act(() => es.open());
    points = [...points, { step: 2, value: 3 }, { step: 3, value: 2.5 }];
    act(() => es.emit('metrics', { runId: 'r1', points: [] }));
    await waitFor(() => expect(pathPoints()).toBe(3), { timeout: 2000 });
  });

  it('shows the failure and closes the stream once the run is terminal', async () => {
    renderRun();
    await screen.findByText('file:///ck/15');
    expect(screen.queryByRole('link', { name: 'Re-run' })).toBeNull(); // not while it runs
    const es = FakeEventSource.instances.find((e) => e.url === '/api/live/runs/r1')!;
    status = 'FAILED';
    act(() => es.emit('status', { status: 'FAILED' }));
    expect(await screen.findByText('DIVERGED')).toBeInTheDocument();
    expect(screen.getByText('loss is NaN at step 3')).toBeInTheDocument();
    await waitFor(() => expect(es.closed).toBe(true));
    expect(screen.queryByRole('button', { name: 'Cancel run' })).toBeNull();
    expect(screen.getByRole('link', { name: 'Re-run' })).toHaveAttribute('href', '/submit?rerun=r1');
  });

  it('shows no failure banner for a cancelled run, only a muted note of what the worker said while stopping', async () => {
    status = 'CANCELLED';
    failure = { failureClass: null, message: 'cancelled; the worker reported DEVICE_ERROR while stopping: device lost' };
    renderRun();
    await screen.findByText('file:///ck/15');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('failure-note')).toHaveTextContent('cancelled; the worker reported DEVICE_ERROR while stopping: device lost');
  });

  it('shows no failure banner for a cancelled run that still carries a failure class (rows stored before the fix)', async () => {
    status = 'CANCELLED';
    failure = { failureClass: 'DEVICE_ERROR', message: 'device lost' };
    renderRun();
    await screen.findByText('file:///ck/15');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('failure-note')).toHaveTextContent('DEVICE_ERROR device lost');
  });

  it('does not show an earlier attempt\'s failure as the failure of a running retry', async () => {
    attempt = 2;
    failure = { failureClass: 'LOST_WORKER', message: 'no heartbeat from the worker of attempt 1 for PT30S' };
    renderRun();
    await screen.findByText('file:///ck/15');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('failure-note')).toHaveTextContent('An earlier attempt failed: LOST_WORKER no heartbeat');
  });

  it('heads the environment of each attempt with its number and how it ended', async () => {
    attempt = 2;
    environments = [
      { attempt: 1, backend: 'cpu', host: 'box-a' },
      { attempt: 2, backend: 'cpu', host: 'box-b' },
    ];
    events = [
      { attempt: 1, seq: 1, type: 'STARTED', time: '2026-01-01T00:00:00Z', payload: { workerId: 'w1' } },
      { attempt: 1, seq: 2, type: 'FAILED', time: '2026-01-01T00:01:00Z', payload: { failure: { failureClass: 'LOST_WORKER', message: 'silent' }, workerId: 'scheduler' } },
      { attempt: 2, seq: 3, type: 'STARTED', time: '2026-01-01T00:02:00Z', payload: { workerId: 'w2' } },
    ];
    renderRun();
    await screen.findByText('file:///ck/15');
    await waitFor(() => expect(screen.getByRole('heading', { name: 'Attempt 1 · failed (LOST_WORKER)' })).toBeInTheDocument());
    expect(screen.getByRole('heading', { name: 'Attempt 2 · running' })).toBeInTheDocument();
    const first = screen.getByRole('table', { name: 'Environment of attempt 1' });
    expect(within(first).getByText('box-a')).toBeInTheDocument();
  });

  it('lists the config without the empty section of the other kind', async () => {
    renderRun();
    await screen.findByText('file:///ck/15');
    const config = screen.getByRole('table', { name: 'Run configuration' });
    expect(within(config).getByText('training.steps')).toBeInTheDocument();
    expect(within(config).queryByText('benchmark')).toBeNull();
  });
});
