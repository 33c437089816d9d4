import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import type { RunSummary } from '../../shared/api/types';
import { toRun } from './api';
import { groupRuns } from './grouping';
import { RunsTable, formatSort, parseSort } from './RunsTable';

const runs: RunSummary[] = [
  { id: 'aaaaaaaa-1', kind: 'TRAINING', family: 'mha', status: 'RUNNING' },
  { id: 'bbbbbbbb-2', kind: 'TRAINING', family: 'gqa', status: 'FAILED', failureClass: 'DIVERGED' },
  { id: 'cccccccc-3', kind: 'TRAINING', family: 'mha', status: 'SUCCEEDED' },
];

describe('groupRuns', () => {
  it('groups in order of first appearance with status counts', () => {
    const g = groupRuns(runs, 'family');
    expect(g.map((x) => x.key)).toEqual(['mha', 'gqa']);
    expect(g[0].counts).toEqual({ RUNNING: 1, SUCCEEDED: 1 });
    expect(groupRuns(runs, 'failureClass').map((x) => x.key)).toEqual(['no failure', 'DIVERGED']);
  });
});

describe('RunsTable', () => {
  it('offers cancel only for unfinished runs and re-run only for finished ones, grouped by family', async () => {
    const onCancel = vi.fn();
    const onSort = vi.fn();
    render(
      <MemoryRouter>
        <RunsTable runs={runs} groupBy="family" sort={{ field: 'createdAt', dir: 'desc' }} onSort={onSort} selected={new Set()} onSelect={() => {}} onCancel={onCancel} caption="runs" />
      </MemoryRouter>,
    );
    expect(screen.getAllByRole('rowheader').map((h) => h.textContent)).toEqual([expect.stringMatching(/^mha/), expect.stringMatching(/^gqa/)]);
    const cancels = screen.getAllByRole('button', { name: /Cancel run/ });
    expect(cancels).toHaveLength(1);
    await userEvent.click(cancels[0]);
    expect(onCancel).toHaveBeenCalledWith(runs[0]);
    // The RUNNING run aaaaaaaa has no re-run; the FAILED and SUCCEEDED ones do.
    expect(screen.getAllByRole('link', { name: /Re-run run/ }).map((l) => l.getAttribute('aria-label'))).toEqual(['Re-run run cccccccc', 'Re-run run bbbbbbbb']);
    const row = screen.getByText('DIVERGED').closest('tr')!;
    expect(within(row).getByText('FAILED')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: /Family/ }));
    expect(onSort).toHaveBeenCalledWith({ field: 'family', dir: 'desc' });
  });
});

describe('sort and run shape', () => {
  it('parses and formats the sort parameter', () => {
    expect(parseSort('status,asc')).toEqual({ field: 'status', dir: 'asc' });
    expect(parseSort(null)).toEqual({ field: 'createdAt', dir: 'desc' });
    expect(formatSort({ field: 'family', dir: 'desc' })).toBe('family,desc');
  });

  it('flattens the api run view', () => {
    const r = toRun<RunSummary & { metricNames: string[] }>({ id: 'r', failure: { failureClass: 'OUT_OF_MEMORY', message: 'at 16k' }, metrics: [{ name: 'train/loss' }], spec: { seed: 7 } });
    expect(r.failureClass).toBe('OUT_OF_MEMORY');
    expect(r.failureMessage).toBe('at 16k');
    expect(r.metricNames).toEqual(['train/loss']);
    expect(r.seed).toBe(7);
  });
});
