import { act, render, screen, waitFor, within } from '@testing-library/react';
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
    'POST /api/experiments/e1/cancel': { status: 202, body: {} },
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

  it('says which grid point each run of a multi-point sweep is: variant, seqLen and seed as columns', async () => {
    const mha = { family: 'mha', dModel: 64, nHeads: 2 };
    const gqa = { family: 'gqa', dModel: 64, nHeads: 2, nKvHeads: 1 };
    const points = [mha, gqa].flatMap((variant) => [128, 256].flatMap((seqLen) => [1, 2].map((seed) => ({ variant, seqLen, seed }))));
    fakeApi({
      'GET /api/experiments/e1': () => ({
        body: {
          id: 'e1',
          name: 'sweep',
          kind: 'BENCHMARK',
          status: 'SUCCEEDED',
          // batch has one value: it does not vary, so it is no column.
          request: { name: 'sweep', kind: 'BENCHMARK', variants: [mha, gqa], grid: { seqLen: [128, 256], seed: [1, 2], batch: [4] }, benchmark: {} },
        },
      }),
      'GET /api/runs': () => ({
        body: {
          items: points.map((p, i) => ({
            id: `run-${i}-000000`,
            experimentId: 'e1',
            ordinal: i,
            kind: 'BENCHMARK',
            family: p.variant.family,
            status: 'SUCCEEDED',
            variant: p.variant,
            spec: { kind: 'BENCHMARK', variant: p.variant, seed: p.seed, benchmark: { seqLen: p.seqLen, batch: 4 } },
            grid: { batch: 4, seed: p.seed, seqLen: p.seqLen },
          })),
          page: 0,
          size: 100,
          totalElements: points.length,
        },
      }),
    });
    renderPage();
    const table = await screen.findByRole('table', { name: 'Runs of sweep' });
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toEqual(expect.arrayContaining(['Variant', 'seqLen', 'seed']));
    expect(headers).not.toContain('batch');
    // Each row: its variant, seqLen and seed, in the columns of those names.
    const column = (name: string) => headers.indexOf(name);
    const rows = points.map((_, i) => table.querySelector(`tr[data-run-id="run-${i}-000000"]`)!);
    const cellsOf = (row: Element) => [...row.querySelectorAll('td')].map((td) => td.textContent);
    // The select checkbox has a header cell too, so header and data cell indices line up.
    const seen = rows.map((row) => {
      const cells = cellsOf(row);
      return `${cells[column('Variant')]} | ${cells[column('seqLen')]} | ${cells[column('seed')]}`;
    });
    expect(seen).toEqual(points.map((p) => `${p.variant.family === 'mha' ? 'MHA E64 2h' : 'GQA E64 2q/1kv'} | ${p.seqLen} | ${p.seed}`));
    expect(new Set(seen).size).toBe(points.length);
  });

  it('compares the selected runs without forcing the first ticked as the baseline', async () => {
    statuses = ['SUCCEEDED', 'SUCCEEDED'];
    setup();
    renderPage();
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Select run run-1-00' }));
    await userEvent.click(screen.getByRole('checkbox', { name: 'Select run run-0-00' }));
    const link = screen.getByRole('link', { name: 'Compare selected (2)' });
    expect(link).toHaveAttribute('href', '/compare?runs=run-1-000000,run-0-000000');
  });

  it('asks before cancelling the experiment, and cancels only on yes', async () => {
    const api = setup();
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    renderPage();
    const button = await screen.findByRole('button', { name: 'Cancel experiment' });
    await waitFor(() => expect(screen.getAllByRole('row').length).toBeGreaterThan(2));
    await userEvent.click(button);
    expect(confirm).toHaveBeenCalledWith(expect.stringContaining('Cancel experiment “sweep”? Its 2 unfinished runs will stop'));
    expect(api.calls.some((c) => c.url === '/api/experiments/e1/cancel')).toBe(false);
    confirm.mockReturnValue(true);
    await userEvent.click(button);
    await waitFor(() => expect(api.calls.some((c) => c.method === 'POST' && c.url === '/api/experiments/e1/cancel')).toBe(true));
    expect(await screen.findByText('Cancellation requested.')).toBeInTheDocument();
  });
});
