import { render, screen, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeEventSource, fakeApi } from '../../test/fakeApi';
import { RunsPage } from './RunsPage';

beforeEach(() => vi.stubGlobal('EventSource', FakeEventSource));
afterEach(() => vi.unstubAllGlobals());

const cca = (nHeads: number) => ({ family: 'cca', dModel: 64, nHeads, compression: 4 });
const run = (id: string, nHeads: number, seqLen: number) => ({
  id,
  experimentId: 'e1',
  experimentName: 'sweep',
  kind: 'BENCHMARK',
  family: 'cca',
  status: 'SUCCEEDED',
  variant: cca(nHeads),
  spec: { kind: 'BENCHMARK', variant: cca(nHeads), seed: 1, benchmark: { seqLen, batch: 1 } },
  grid: { seqLen, seed: 1 },
});

describe('RunsPage', () => {
  it('tells the runs of one family apart by their variant and the grid keys that differ, as the experiment page does', async () => {
    fakeApi({
      'GET /api/runs': {
        body: { items: [run('aaaaaaaa-1', 2, 1024), run('bbbbbbbb-2', 4, 1024), run('cccccccc-3', 2, 4096)], page: 0, size: 50, totalElements: 3 },
      },
    });
    render(
      <MemoryRouter>
        <RunsPage />
      </MemoryRouter>,
    );
    const table = await screen.findByRole('table', { name: 'Runs' });
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    expect(headers).toContain('Variant');
    expect(headers).toContain('seqLen');
    expect(headers).not.toContain('seed'); // one value on this page
    const row = (id: string) => table.querySelector(`tr[data-run-id="${id}"]`) as HTMLElement;
    const variantOf = (id: string) => row(id).querySelectorAll('td.sweep-axis')[0].textContent;
    expect(variantOf('aaaaaaaa-1')).not.toBe(variantOf('bbbbbbbb-2'));
    expect(variantOf('aaaaaaaa-1')).toBe(variantOf('cccccccc-3'));
    expect(within(row('cccccccc-3')).getByText('4096')).toBeInTheDocument();
  });
});
