import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource, fakeApi } from '../../test/fakeApi';
import { ExperimentPage } from './ExperimentPage';

let statuses: string[] = [];

beforeEach(() => {
  statuses = ['RUNNING', 'QUEUED'];
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
});
afterEach(() => vi.unstubAllGlobals());

function setup() {
  return fakeApi({
    'GET /api/experiments/e1': () => ({ body: { id: 'e1', name: 'sweep', kind: 'TRAINING', status: 'RUNNING', request: { name: 'sweep', kind: 'TRAINING', variants: [], grid: {} } } }),
    'GET /api/runs': () => ({
      body: {
        items: statuses.map((status, i) => ({ id: `run-${i}-000000`, experimentId: 'e1', kind: 'TRAINING', family: i === 0 ? 'mha' : 'gqa', status, failure: status === 'FAILED' ? { failureClass: 'DIVERGED', message: 'NaN' } : undefined })),
        page: 0,
        size: 100,
        totalElements: statuses.length,
      },
    }),
    'POST /api/experiments/e1/rerun-failed': { status: 202, body: { requeued: 1 } },
  });
}

function renderPage() {
  return render(
    <MemoryRouter initialEntries={['/experiments/e1']}>
      <Routes>
        <Route path="/experiments/:id" element={<ExperimentPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('ExperimentPage', () => {
  it('follows its runs live until all are finished, then stops listening', async () => {
    setup();
    renderPage();
    const progress = await screen.findByTestId('experiment-progress');
    await waitFor(() => expect(progress).toHaveTextContent('1 running · 1 queued'));
    expect(progress).toHaveAttribute('data-done', 'false');
    const es = FakeEventSource.instances.find((e) => e.url === '/api/live/queue')!;
    statuses = ['SUCCEEDED', 'FAILED'];
    act(() => es.emit('queue', { queued: 0 }));
    await waitFor(() => expect(progress).toHaveTextContent('1 succeeded · 1 failed'));
    expect(progress).toHaveAttribute('data-done', 'true');
    await waitFor(() => expect(es.closed).toBe(true));
    expect(screen.getByText('DIVERGED')).toBeInTheDocument();
  });

  it('re-runs the failed runs and listens again', async () => {
    statuses = ['SUCCEEDED', 'FAILED'];
    const api = setup();
    renderPage();
    const button = await screen.findByRole('button', { name: 'Re-run failed' });
    await waitFor(() => expect(button).toBeEnabled());
    statuses = ['SUCCEEDED', 'RETRYING'];
    await userEvent.click(button);
    expect(await screen.findByText('Failed runs queued again.')).toBeInTheDocument();
    expect(api.calls.some((c) => c.method === 'POST' && c.url === '/api/experiments/e1/rerun-failed')).toBe(true);
    await waitFor(() => expect(screen.getByTestId('experiment-progress')).toHaveTextContent('1 succeeded · 1 retrying'));
    await waitFor(() => expect(FakeEventSource.instances.some((e) => e.url === '/api/live/queue' && !e.closed)).toBe(true));
  });
});
