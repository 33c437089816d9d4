import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi } from '../../test/fakeApi';
import { ComparePage } from './ComparePage';

afterEach(() => vi.unstubAllGlobals());

const mha = { family: 'mha', dModel: 32, nHeads: 2 };
const gqa = { family: 'gqa', dModel: 32, nHeads: 2, nKvHeads: 1 };
const run = (id: string, variant: object, kind: 'TRAINING' | 'BENCHMARK', extra: object = {}) => ({
  id,
  experimentId: 'exp',
  kind,
  family: (variant as { family: string }).family,
  status: 'SUCCEEDED',
  seed: 1,
  spec: { kind, variant, seed: 1, ...(kind === 'TRAINING' ? { training: { steps: 3, seqLen: 16 } } : { benchmark: { seqLen: 32, batch: 1 } }) },
  metrics: kind === 'TRAINING' ? [{ name: 'train/loss' }, { name: 'val/loss' }] : [],
  ...extra,
});
const series = (losses: number[], val: number) => ({
  runId: 'x',
  series: [
    { name: 'train/loss', points: losses.map((v, i) => ({ step: i + 1, value: v, tokens: (i + 1) * 64, elapsedS: i * 0.1 })) },
    { name: 'val/loss', points: [{ step: 3, value: val }] },
  ],
});
const cell = (p50Ms: number, tflops: number) => ({ phase: 'FORWARD', scope: 'LAYER', causal: true, batch: 1, seqLen: 32, dtype: 'fp32', p50Ms, tflops });

function Where() {
  const loc = useLocation();
  return <output data-testid="location">{loc.search}</output>;
}

function setup(extra: Parameters<typeof fakeApi>[0] = {}, ids = ['t-mha', 't-gqa', 'b-mha', 'b-gqa']) {
  return fakeApi({
    'GET /api/runs': { body: { items: ids.map((id) => ({ id })), page: 0, size: 120, totalElements: ids.length } },
    'GET /api/runs/t-mha': { body: run('t-mha', mha, 'TRAINING') },
    'GET /api/runs/t-gqa': { body: run('t-gqa', gqa, 'TRAINING') },
    'GET /api/runs/b-mha': { body: run('b-mha', mha, 'BENCHMARK') },
    'GET /api/runs/b-gqa': { body: run('b-gqa', gqa, 'BENCHMARK') },
    'GET /api/runs/t-mha/metrics': { body: series([3, 2.5, 2], 2.0) },
    'GET /api/runs/t-gqa/metrics': { body: series([3, 2.6, 2.2], 2.5) },
    'GET /api/runs/b-mha/cells': { body: { cells: [cell(2, 4)] } },
    'GET /api/runs/b-gqa/cells': { body: { cells: [cell(1, 5)] } },
    'POST /api/variants/cost': (c) => ({ body: { cost: { kvCacheBytesPerToken: (c.body as { variant: { family: string } }).variant.family === 'mha' ? 128 : 64, prefillFlops: 1e6 } } }),
    'GET /api/experiments': { body: { items: [], page: 0, size: 15, totalElements: 0 } },
    ...extra,
  });
}

function renderAt(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route
          path="/compare"
          element={
            <>
              <ComparePage />
              <Where />
            </>
          }
        />
      </Routes>
    </MemoryRouter>,
  );
}

describe('ComparePage', () => {
  it('draws the curves, the ratios to the baseline, the Pareto frontier and the config diff', async () => {
    setup();
    renderAt('/compare?experiments=exp&baseline=t-mha');
    const training = await screen.findByTestId('training-ratios');
    await waitFor(() => expect(within(training).getAllByRole('row')).toHaveLength(3));
    // GQA: min val loss 2.5 against the MHA baseline 2.0.
    await waitFor(() => expect(within(training).getByText('1.25×')).toBeInTheDocument());
    const chart = screen.getByTestId('chart-train/loss vs step');
    expect(chart.querySelectorAll('path[stroke-dasharray]').length).toBe(1); // the baseline is dashed
    expect(chart.querySelectorAll('g.series')).toHaveLength(2);

    // The benchmark runs have no MHA ratio unless the baseline is a benchmark run: pick it.
    await userEvent.selectOptions(screen.getByLabelText('Baseline'), 'b-mha');
    const cells = screen.getByTestId('cell-ratios');
    const gqaRow = within(cells).getByRole('link', { name: 'b-gqa' }).closest('tr')!;
    expect(within(gqaRow).getByText('2.00×')).toBeInTheDocument(); // speed-up: GQA 1 ms vs MHA 2 ms
    expect(within(gqaRow).getByText('1.25×')).toBeInTheDocument(); // TFLOP/s 5 vs 4
    expect(screen.getByTestId('location')).toHaveTextContent('baseline=b-mha');

    // Pareto: GQA has half the KV bytes but a worse loss, so both are on the frontier.
    expect(screen.getAllByText(/— on the frontier/)).toHaveLength(2);
    expect(screen.getByTestId('config-diff')).toHaveTextContent('variant.family');
  });

  it('without a baseline in the link, compares each kind against its MHA run, wherever it is listed (the api\'s default too)', async () => {
    setup();
    renderAt('/compare?runs=b-gqa,t-gqa,b-mha,t-mha');
    const cells = await screen.findByTestId('cell-ratios');
    await waitFor(() => expect(screen.getByText(/^Baseline: MHA E32 2h \(b-mha\)/)).toBeInTheDocument());
    const gqaRow = within(cells).getByRole('link', { name: 'b-gqa' }).closest('tr')!;
    expect(within(gqaRow).getByText('2.00×')).toBeInTheDocument(); // GQA 1 ms against MHA 2 ms
    const training = screen.getByTestId('training-ratios');
    expect(screen.getByText(/^Baseline: MHA E32 2h \(t-mha\)/)).toBeInTheDocument();
    await waitFor(() => expect(within(training).getByText('1.25×')).toBeInTheDocument()); // val loss 2.5 against 2.0
    expect(screen.getByTestId('location')).not.toHaveTextContent('baseline=');
  });

  it('places an SWA/OVQ hybrid on the Pareto plot by the mean over its layers, its SWA layers included', async () => {
    const hybrid = { family: 'ovq', dModel: 32, nHeads: 2, ovq: { chunkLength: 16, dictionarySize: 16, growthLength: 256, swaWindow: 8 } };
    const { calls } = setup(
      {
        'GET /api/runs/t-gqa': { body: run('t-gqa', hybrid, 'TRAINING', { spec: { kind: 'TRAINING', variant: hybrid, seed: 1, training: { steps: 3, seqLen: 16, nLayers: 2 } } }) },
        // MHA (the SWA layers' attention): 128 B per token; the OVQ layer: a 2048 B state, no per-token cache.
        'POST /api/variants/cost': (c) => {
          const v = (c.body as { variant: { family: string } }).variant;
          return { body: { cost: v.family === 'mha' ? { seqLen: 16, kvCacheBytesPerToken: 128, decodeStateBytes: 0, prefillFlops: 1e6 } : { seqLen: 16, kvCacheBytesPerToken: 0, decodeStateBytes: 2048, prefillFlops: 1e6 } } };
        },
      },
      ['t-mha', 't-gqa'],
    );
    renderAt('/compare?experiments=exp&baseline=t-mha');
    await screen.findByTestId('training-ratios');
    // SWA layer: 8 of 16 tokens cached, 64 B per token; OVQ layer: 2048 / 16 = 128 B per token; the mean is 96.
    await waitFor(() => expect(screen.getByText(/^OVQ E32 2h N16 L16: 96\.0,/, { selector: 'li' })).toBeInTheDocument());
    expect(screen.getByText(/^MHA E32 2h: 128,/, { selector: 'li' })).toBeInTheDocument();
    const costCalls = calls.filter((c) => c.url.endsWith('/api/variants/cost')).map((c) => (c.body as { variant: { family: string; dModel: number; nHeads: number } }).variant);
    expect(costCalls).toContainEqual({ family: 'mha', dModel: 32, nHeads: 2 });
  });

  it('marks the CORE cells of OVQ as layer timings and says why a CORE ratio against them misleads', async () => {
    const ovq = { family: 'ovq', dModel: 32, nHeads: 2 };
    const core = (p50Ms: number) => ({ ...cell(p50Ms, 1), scope: 'CORE' });
    setup(
      {
        'GET /api/runs/b-gqa': { body: run('b-gqa', ovq, 'BENCHMARK') },
        'GET /api/runs/b-mha/cells': { body: { cells: [core(1), cell(2, 4)] } },
        'GET /api/runs/b-gqa/cells': { body: { cells: [core(3), cell(3, 4)] } },
      },
      ['b-mha', 'b-gqa'],
    );
    renderAt('/compare?experiments=exp&baseline=b-mha&scope=CORE');
    const cells = await screen.findByTestId('cell-ratios');
    const ovqRows = within(cells).getAllByRole('link', { name: 'b-gqa' }).map((a) => a.closest('tr')!);
    // The table shows the chosen scope only (CORE here), like the charts.
    expect(ovqRows.map((tr) => within(tr).getAllByRole('cell')[3].textContent)).toEqual(['CORE = layer*']);
    const mhaRows = within(cells).getAllByRole('link', { name: 'b-mha' }).map((a) => a.closest('tr')!);
    expect(mhaRows.map((tr) => within(tr).getAllByRole('cell')[3].textContent)).toEqual(['CORE']);
    expect(screen.getByTestId('ovq-core-note')).toHaveTextContent('time the whole layer');
    // At scope LAYER the OVQ row is a plain layer timing and the note goes.
    await userEvent.selectOptions(screen.getByLabelText('Scope'), 'LAYER');
    const layerRows = within(screen.getByTestId('cell-ratios')).getAllByRole('link', { name: 'b-gqa' }).map((a) => a.closest('tr')!);
    expect(layerRows.map((tr) => within(tr).getAllByRole('cell')[3].textContent)).toEqual(['LAYER']);
    expect(screen.queryByTestId('ovq-core-note')).toBeNull();
  });

  it('has no such note without OVQ runs', async () => {
    const core = (p50Ms: number) => ({ ...cell(p50Ms, 1), scope: 'CORE' });
    setup({ 'GET /api/runs/b-mha/cells': { body: { cells: [core(1)] } }, 'GET /api/runs/b-gqa/cells': { body: { cells: [core(2)] } } }, ['b-mha', 'b-gqa']);
    renderAt('/compare?experiments=exp&baseline=b-mha&scope=CORE');
    await screen.findByTestId('cell-ratios');
    expect(screen.queryByTestId('ovq-core-note')).toBeNull();
  });

  it('keeps the view in the URL so the permalink reproduces it', async () => {
    setup();
    renderAt('/compare?experiments=exp&x=tokens&smooth=0');
    await screen.findByTestId('training-ratios');
    expect(await screen.findByTestId('chart-train/loss vs tokens')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('radio', { name: 'time' }));
    expect(screen.getByTestId('location').textContent).toBe('?experiments=exp&x=time&smooth=0');
    expect(screen.getByTestId('chart-train/loss vs time')).toBeInTheDocument();
  });

  it('averages the seeds of a variant into one curve with its range shaded', async () => {
    setup(
      {
        'GET /api/runs/t-mha2': { body: { ...run('t-mha2', mha, 'TRAINING'), seed: 2, spec: { ...run('t-mha2', mha, 'TRAINING').spec, seed: 2 } } },
        'GET /api/runs/t-mha2/metrics': { body: series([5, 4.5, 4], 3.0) },
      },
      ['t-mha', 't-mha2', 't-gqa'],
    );
    renderAt('/compare?experiments=exp&smooth=0&seeds=mean');
    const chart = await screen.findByTestId('chart-train/loss vs step');
    await waitFor(() => expect(chart.querySelectorAll('g.series')).toHaveLength(2));
    const mhaSeries = chart.querySelector('g.series[data-series^="MHA"]')!;
    expect(mhaSeries.getAttribute('data-series')).toBe('MHA E32 2h · mean of 2 seeds (baseline)');
    expect(mhaSeries.querySelector('path.band')).not.toBeNull();
    expect(chart.querySelector('g.series[data-series^="GQA"] path.band')).toBeNull();
    // The mean of (3, 5), (2.5, 4.5), (2, 4) is 4, 3.5, 3: the line's y falls as the loss does.
    const ys = mhaSeries.querySelector('path.line')!.getAttribute('d')!.split(/[ML]/).filter(Boolean).map((p) => Number(p.split(',')[1]));
    expect(ys).toHaveLength(3);
    expect(ys[0]).toBeLessThan(ys[1]);
    await userEvent.selectOptions(screen.getByLabelText('Seeds'), 'each');
    expect(screen.getByTestId('location').textContent).not.toContain('seeds=');
    await waitFor(() => expect(chart.querySelectorAll('g.series')).toHaveLength(3));
  });

  it('draws the kernel charts of every measured phase when asked for all phases', async () => {
    setup({ 'GET /api/runs/b-gqa/cells': { body: { cells: [cell(1, 5), { ...cell(0.5, 2), phase: 'DECODE' }] } } });
    renderAt('/compare?experiments=exp&phase=ALL');
    expect(await screen.findByTestId('chart-Latency (p50) vs sequence length, forward')).toBeInTheDocument();
    expect(screen.getByTestId('chart-TFLOP/s vs sequence length, decode')).toBeInTheDocument();
    expect(screen.queryByTestId('chart-Latency (p50) vs sequence length, backward')).toBeNull();
  });

  it('reads a whole experiment with its cells from one bulk comparison when the api offers it', async () => {
    const api = setup({
      'GET /api/compare': {
        body: {
          baseline: { type: 'experiment', id: 'exp', runIds: [] },
          metric: 'val/loss',
          runs: [
            { runId: 'b-mha', experimentId: 'exp', ordinal: 0, kind: 'BENCHMARK', family: 'mha', status: 'SUCCEEDED', variant: mha, spec: run('b-mha', mha, 'BENCHMARK').spec, cells: [cell(2, 4)] },
            { runId: 'b-gqa', experimentId: 'exp', ordinal: 1, kind: 'BENCHMARK', family: 'gqa', status: 'SUCCEEDED', variant: gqa, spec: run('b-gqa', gqa, 'BENCHMARK').spec, cells: [cell(1, 5)] },
          ],
        },
      },
    });
    renderAt('/compare?experiments=exp');
    const cells = await screen.findByTestId('cell-ratios');
    const gqaRow = within(cells).getByRole('link', { name: 'b-gqa' }).closest('tr')!;
    expect(within(gqaRow).getByText('2.00×')).toBeInTheDocument();
    const compareCall = api.calls.find((c) => c.url.startsWith('/api/compare'))!;
    expect(compareCall.url).toBe('/api/compare?experiments=exp&baseline=exp');
    expect(api.calls.filter((c) => c.url.startsWith('/api/runs'))).toEqual([]);
  });

  it('offers every metric the runs recorded, whether they came from the bulk comparison, the list endpoint or one by one', async () => {
    const recorded = [{ name: 'train/loss' }, { name: 'val/loss' }, { name: 'recall/accuracy' }, { name: 'train/lr' }];
    const routes = {
      'GET /api/runs/t-mha': { body: run('t-mha', mha, 'TRAINING', { metrics: recorded }) },
      'GET /api/runs/t-gqa': { body: run('t-gqa', gqa, 'TRAINING', { metrics: recorded }) },
    };
    const summary = (id: string, variant: object) => {
      const { metrics: _, ...rest } = run(id, variant, 'TRAINING');
      return rest;
    };
    const check = async () => {
      const select = await screen.findByLabelText('Metric');
      await waitFor(() => expect(within(select).getByRole('option', { name: 'recall/accuracy' })).toBeInTheDocument());
      expect(within(select).getByRole('option', { name: 'train/lr' })).toBeInTheDocument();
    };

    // Bulk: GET /api/compare lists no series names.
    setup({
      ...routes,
      'GET /api/compare': {
        body: {
          baseline: { type: 'experiment', id: 'exp', runIds: [] },
          metric: 'val/loss',
          runs: [
            { runId: 't-mha', experimentId: 'exp', ordinal: 0, kind: 'TRAINING', family: 'mha', status: 'SUCCEEDED', variant: mha, spec: run('t-mha', mha, 'TRAINING').spec },
            { runId: 't-gqa', experimentId: 'exp', ordinal: 1, kind: 'TRAINING', family: 'gqa', status: 'SUCCEEDED', variant: gqa, spec: run('t-gqa', gqa, 'TRAINING').spec },
          ],
        },
      },
    });
    const first = renderAt('/compare?experiments=exp');
    await check();
    first.unmount();

    // The list endpoint: summaries with variant and spec, no series names.
    setup({ ...routes, 'GET /api/runs': { body: { items: [summary('t-mha', mha), summary('t-gqa', gqa)], page: 0, size: 120, totalElements: 2 } } });
    const second = renderAt('/compare?experiments=exp');
    await check();
    second.unmount();

    // Named runs, read one by one.
    setup(routes);
    renderAt('/compare?runs=t-mha,t-gqa');
    await check();
  });

  it('shows the KV-cache bytes per token of each benchmark cell: its own, else the cost model\'s at the cell\'s dtype', async () => {
    const api = setup({
      'GET /api/runs/b-mha/cells': { body: { cells: [{ ...cell(2, 4), kvBytesPerToken: 256 }] } },
      // b-gqa's cell records none: the cost model is asked at its dtype.
      'POST /api/variants/cost': (c) => {
        const b = c.body as { variant: { family: string }; dtype?: string };
        const perElement = b.dtype === 'fp32' ? 4 : 2;
        return { body: { cost: { kvCacheBytesPerToken: (b.variant.family === 'mha' ? 32 : 16) * perElement, prefillFlops: 1e6 } } };
      },
    });
    renderAt('/compare?runs=b-mha,b-gqa&baseline=b-mha');
    const table = await screen.findByTestId('cell-ratios');
    const headers = within(table).getAllByRole('columnheader').map((h) => h.textContent);
    const col = headers.indexOf('KV bytes / token');
    expect(col).toBeGreaterThan(-1);
    const kvOf = (id: string) => within(table).getByRole('link', { name: id }).closest('tr')!.children[col];
    await waitFor(() => expect(kvOf('b-gqa').textContent).toBe('64 B'));
    expect(kvOf('b-gqa')).toHaveAttribute('title', expect.stringContaining('cost model at fp32'));
    expect(kvOf('b-mha').textContent).toBe('256 B');
    expect(api.calls.some((c) => c.url === '/api/variants/cost' && (c.body as { dtype?: string }).dtype === 'fp32')).toBe(true);
  });

  it('draws equal losses level on the Pareto plot, and an accuracy as better higher', async () => {
    const withMetrics = (losses: number[], val: number, acc: number) => {
      const s = series(losses, val);
      return { ...s, series: [...s.series.map((x) => (x.name === 'val/loss' ? { ...x, points: [{ step: 3, value: val }] } : x)), { name: 'recall/accuracy', points: [{ step: 3, value: acc }] }] };
    };
    const recorded = { metrics: [{ name: 'train/loss' }, { name: 'val/loss' }, { name: 'recall/accuracy' }] };
    setup(
      {
        'GET /api/runs/t-mha': { body: run('t-mha', mha, 'TRAINING', recorded) },
        'GET /api/runs/t-gqa': { body: run('t-gqa', gqa, 'TRAINING', recorded) },
        // Equal to four digits: a difference of 6e-5 is noise, not a ranking.
        'GET /api/runs/t-mha/metrics': { body: withMetrics([5, 4.9, 4.86], 4.85872, 0.9) },
        'GET /api/runs/t-gqa/metrics': { body: withMetrics([5, 4.9, 4.86], 4.85878, 0.5) },
      },
      ['t-mha', 't-gqa'],
    );
    const { unmount } = renderAt('/compare?runs=t-mha,t-gqa');
    const chart = await screen.findByTestId('chart-Pareto: cache + state bytes per token vs validation loss');
    await waitFor(() => expect(chart.querySelectorAll('circle')).toHaveLength(2));
    const cys = [...chart.querySelectorAll('circle')].map((c) => Number(c.getAttribute('cy')));
    expect(Math.abs(cys[0] - cys[1])).toBeLessThan(2);
    expect(chart).toHaveTextContent('lower ↓ is better');
    unmount();

    // recall/accuracy: MHA's 0.9 at 128 B beats GQA's 0.5 at 64 B on quality, GQA it on cost: both on the frontier,
    // and MHA drawn above GQA.
    renderAt('/compare?runs=t-mha,t-gqa&metric=recall/accuracy');
    const acc = await screen.findByTestId('chart-Pareto: cache + state bytes per token vs recall/accuracy');
    await waitFor(() => expect(acc.querySelectorAll('circle')).toHaveLength(2));
    expect(acc).toHaveTextContent('recall/accuracy (max, mean over seeds), higher ↑ is better');
    expect(screen.getAllByText(/— on the frontier/)).toHaveLength(2);
    const byLabel = (p: string) => Number([...acc.querySelectorAll('circle')].find((c) => c.querySelector('title')!.textContent!.startsWith(p))!.getAttribute('cy'));
    expect(byLabel('MHA')).toBeLessThan(byLabel('GQA'));
  });

  it('leaves out of the config differences the rows empty for every run (the other kind\'s section when kinds mix)', async () => {
    const t = run('t-mha', mha, 'TRAINING');
    const b = run('b-gqa', gqa, 'BENCHMARK');
    setup({
      'GET /api/runs/t-mha': { body: { ...t, spec: { ...t.spec, benchmark: null } } },
      'GET /api/runs/b-gqa': { body: { ...b, spec: { ...b.spec, training: null } } },
    });
    renderAt('/compare?runs=t-mha,b-gqa');
    const diff = await screen.findByTestId('config-diff');
    const rows = within(diff).getAllByRole('rowheader').map((h) => h.textContent);
    expect(rows).toContain('benchmark.seqLen');
    expect(rows).toContain('training.steps');
    expect(rows).not.toContain('benchmark');
    expect(rows).not.toContain('training');
  });

  it('takes the direction GET /api/compare declares for a metric over the name rule', async () => {
    setup({
      'GET /api/compare': {
        body: {
          baseline: { type: 'experiment', id: 'exp', runIds: [] },
          metric: 'val/loss',
          // Not what the api says of a loss: declared here only to see that the page follows the declaration.
          direction: 'HIGHER_IS_BETTER',
          runs: [
            { runId: 't-mha', experimentId: 'exp', ordinal: 0, kind: 'TRAINING', family: 'mha', status: 'SUCCEEDED', variant: mha, spec: run('t-mha', mha, 'TRAINING').spec },
            { runId: 't-gqa', experimentId: 'exp', ordinal: 1, kind: 'TRAINING', family: 'gqa', status: 'SUCCEEDED', variant: gqa, spec: run('t-gqa', gqa, 'TRAINING').spec },
          ],
        },
      },
    });
    renderAt('/compare?experiments=exp');
    const chart = await screen.findByTestId('chart-Pareto: cache + state bytes per token vs validation loss');
    expect(chart).toHaveTextContent('val/loss (max, mean over seeds), higher ↑ is better');
  });

  it('says what to do when nothing is chosen', async () => {
    setup();
    renderAt('/compare');
    expect(screen.getByText(/Choose runs or experiments to compare/)).toBeInTheDocument();
  });

  it('shows the api error when a run cannot be loaded', async () => {
    fakeApi({ 'GET /api/experiments': { body: { items: [] } } });
    renderAt('/compare?runs=missing');
    expect(await screen.findByRole('alert')).toHaveTextContent('Not Found');
  });

  it('refuses an id that is not a UUID beside the box, without touching the comparison', async () => {
    const api = setup();
    renderAt('/compare?runs=t-mha');
    await screen.findByTestId('training-ratios');
    const box = screen.getByLabelText('Add a run or experiment id');
    await userEvent.type(box, 'not-an-id');
    await userEvent.click(screen.getByRole('button', { name: 'Add' }));
    expect(await screen.findByText(/is not a run or experiment id/)).toBeInTheDocument();
    expect(box).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByTestId('location').textContent).toBe('?runs=t-mha');
    expect(api.calls.some((c) => c.url.includes('not-an-id'))).toBe(false);
    expect(screen.getByTestId('training-ratios')).toBeInTheDocument();
    // Typing again clears the complaint.
    await userEvent.type(box, 'x');
    expect(screen.queryByText(/is not a run or experiment id/)).toBeNull();
  });

  it('refuses a well-formed id that names no run or experiment', async () => {
    setup();
    renderAt('/compare?runs=t-mha');
    await screen.findByTestId('training-ratios');
    const unknown = '0b7e4c1a-9d2f-4e1b-8c3a-5f6e7d8c9b0a';
    await userEvent.type(screen.getByLabelText('Add a run or experiment id'), unknown);
    await userEvent.click(screen.getByRole('button', { name: 'Add' }));
    expect(await screen.findByText(/No run or experiment has the id/)).toBeInTheDocument();
    expect(screen.getByTestId('location').textContent).toBe('?runs=t-mha');
  });

  it('adds a run id the api knows', async () => {
    const id = '1b7e4c1a-9d2f-4e1b-8c3a-5f6e7d8c9b0a';
    setup({ [`GET /api/runs/${id}`]: { body: run(id, gqa, 'TRAINING') }, [`GET /api/runs/${id}/metrics`]: { body: series([3, 2.7, 2.4], 2.4) } });
    renderAt('/compare?runs=t-mha');
    await screen.findByTestId('training-ratios');
    await userEvent.type(screen.getByLabelText('Add a run or experiment id'), id);
    await userEvent.click(screen.getByRole('button', { name: 'Add' }));
    await waitFor(() => expect(decodeURIComponent(screen.getByTestId('location').textContent!)).toBe(`?runs=t-mha,${id}`));
  });

  it('keeps the rest of the comparison when one id cannot be loaded, and says which', async () => {
    setup();
    const unknown = '0b7e4c1a-9d2f-4e1b-8c3a-5f6e7d8c9b0a';
    renderAt(`/compare?runs=t-mha,t-gqa,${unknown}`);
    const training = await screen.findByTestId('training-ratios');
    await waitFor(() => expect(within(training).getAllByRole('row')).toHaveLength(3));
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent(unknown);
    expect(alert).toHaveTextContent('Not Found');
    await userEvent.click(within(alert).getByRole('button', { name: `Remove run ${unknown}` }));
    await waitFor(() => expect(decodeURIComponent(screen.getByTestId('location').textContent!)).toBe('?runs=t-mha,t-gqa'));
  });

  it('applies the phase and scope selectors to the ratio table, phases in the order forward, backward, decode', async () => {
    const c = (phase: string, scope: string, p50Ms: number) => ({ ...cell(p50Ms, 1), phase, scope });
    const all = [c('DECODE', 'LAYER', 1), c('BACKWARD', 'LAYER', 2), c('FORWARD', 'LAYER', 3), c('FORWARD', 'CORE', 4)];
    setup({ 'GET /api/runs/b-mha/cells': { body: { cells: all } } }, ['b-mha']);
    renderAt('/compare?experiments=exp&baseline=b-mha');
    const table = await screen.findByTestId('cell-ratios');
    const phases = () => within(screen.getByTestId('cell-ratios')).getAllByRole('row').slice(1).map((tr) => `${within(tr).getAllByRole('cell')[2].textContent}/${within(tr).getAllByRole('cell')[3].textContent}`);
    expect(table).toBeInTheDocument();
    expect(phases()).toEqual(['FORWARD/LAYER']);
    await userEvent.selectOptions(screen.getByLabelText('Phase'), 'ALL');
    expect(phases()).toEqual(['FORWARD/LAYER', 'BACKWARD/LAYER', 'DECODE/LAYER']);
    await userEvent.selectOptions(screen.getByLabelText('Scope'), 'CORE');
    expect(phases()).toEqual(['FORWARD/CORE']);
    await userEvent.selectOptions(screen.getByLabelText('Phase'), 'DECODE');
    expect(screen.queryByTestId('cell-ratios')).toBeNull();
    expect(screen.getByText(/No cells of phase decode and scope core/)).toBeInTheDocument();
  });
});
