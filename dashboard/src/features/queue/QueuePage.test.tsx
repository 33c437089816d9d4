import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource, fakeApi } from '../../test/fakeApi';
import { toQueue } from './api';
import { QueuePage } from './QueuePage';

beforeEach(() => vi.stubGlobal('EventSource', FakeEventSource));
afterEach(() => vi.unstubAllGlobals());

const QUEUE = {
  queued: 812,
  retrying: 1,
  dispatched: 0,
  running: 1,
  items: [
    { runId: 'r-running-1', experimentId: 'e1', experimentName: 'sweep', family: 'cca', kind: 'TRAINING', status: 'RUNNING', priority: 0, attempt: 1, workerId: 'worker-1', waitSeconds: 0.6, runningSeconds: 85 },
    { runId: 'r-queued-2', experimentId: 'e1', experimentName: 'sweep', family: 'gqa', kind: 'TRAINING', status: 'QUEUED', priority: 0, attempt: 1, workerId: null, waitSeconds: 75 },
  ],
};

describe('toQueue', () => {
  it('prefers the server totals over the listed items', () => {
    expect(toQueue(QUEUE).counts).toEqual({ QUEUED: 812, RETRYING: 1, DISPATCHED: 0, RUNNING: 1 });
    expect(toQueue([{ runId: 'a', status: 'QUEUED' }]).counts).toEqual({ QUEUED: 1 });
  });
});

describe('QueuePage', () => {
  it('lists waiting and running runs with worker and wait time, and cancels one', async () => {
    const api = fakeApi({
      'GET /api/queue': { body: QUEUE },
      'GET /api/workers': { body: { items: [{ id: 'worker-1', backend: 'cpu', device: 'cpu x2', deviceMemoryBytes: 2147483648, currentRunId: 'r-running-1', alive: true }] } },
      'GET /api/dead-letters': { body: { items: [{ id: 7, topic: 'runs.events', key: 'k-1', error: 'not JSON', receivedAt: '2026-01-01T00:00:00Z' }], page: 0, size: 50, totalElements: 1 } },
      'POST /api/runs/r-queued-2/cancel': { status: 202, body: { status: 'CANCELLED' } },
    });
    render(
      <MemoryRouter>
        <QueuePage />
      </MemoryRouter>,
    );
    expect(await screen.findByText('812 queued · 1 retrying · 0 dispatched · 1 running')).toBeInTheDocument();
    expect(screen.getByText('1 m 15 s')).toBeInTheDocument();
    // The running run shows how long it has run, not the wait it had before its dispatch; the queued one its wait.
    const table = within(screen.getByRole('table', { name: 'Queued and running runs' }));
    const cols = table.getAllByRole('columnheader').map((h) => h.textContent);
    const cell = (runId: string, col: string) => table.getByRole('link', { name: runId.slice(0, 8) }).closest('tr')!.children[cols.indexOf(col)].textContent;
    expect(cell('r-running-1', 'Running')).toBe('1 m 25 s');
    expect(cell('r-running-1', 'Waiting')).toBe('');
    expect(cell('r-queued-2', 'Waiting')).toBe('1 m 15 s');
    expect(cell('r-queued-2', 'Running')).toBe('');
    expect(screen.queryByText('0.6 s')).toBeNull();
    expect(screen.getByText('2.00 GiB')).toBeInTheDocument();
    expect(screen.getByText('k-1')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Cancel run r-queued' }));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'POST' && c.url === '/api/runs/r-queued-2/cancel')).toBe(true));
  });
});
