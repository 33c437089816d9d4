import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeApi } from '../../test/fakeApi';
import { SubmitPage } from './SubmitPage';

afterEach(() => vi.unstubAllGlobals());

const COST = { variant: {}, dtype: 'bf16', cost: { family: 'mha', seqLen: 16, parameters: 4224, kvCacheBytesPerToken: 128, prefillFlops: 270336, decodeFlops: 16896 } };

function renderAt(url: string) {
  return render(
    <MemoryRouter initialEntries={[url]}>
      <Routes>
        <Route path="/submit" element={<SubmitPage />} />
        <Route path="/experiments/:id" element={<p>experiment page</p>} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('SubmitPage', () => {
  it('fills the form from a preset and shows each variant cost from the api', async () => {
    const api = fakeApi({ 'GET /api/variants': { status: 503, body: {} }, 'POST /api/variants/cost': { body: COST } });
    renderAt('/submit');
    await userEvent.click(screen.getByRole('button', { name: /CPU tiny training/ }));
    expect(screen.getByTestId('run-count')).toHaveTextContent('2 runs');
    expect(screen.getByRole('radio', { name: 'Training' })).toBeChecked();
    expect(screen.getByLabelText('nKvHeads')).toHaveValue('1');
    await waitFor(() => expect(screen.getAllByText('4.22k')).toHaveLength(2), { timeout: 2000 });
    const costCalls = api.calls.filter((c) => c.url === '/api/variants/cost');
    expect(costCalls.map((c) => (c.body as { variant: { family: string } }).variant.family).sort()).toEqual(['gqa', 'mha']);
    expect((costCalls[0].body as { seqLen: number }).seqLen).toBe(16);
  });

  it('shows the api field errors beside the inputs at fault', async () => {
    const api = fakeApi({
      'GET /api/variants': { status: 503, body: {} },
      'POST /api/variants/cost': { body: COST },
      'POST /api/experiments': {
        status: 400,
        body: {
          type: 'https://cca-lab/problems/invalid-request',
          title: 'Invalid experiment',
          status: 400,
          errors: [
            { field: 'variants[1].nKvHeads', message: 'must divide nHeads (2), got 3' },
            { field: 'training.steps', message: 'must be in [1, 1000000], got 0' },
            { field: 'mystery', message: 'something else' },
          ],
        },
      },
    });
    renderAt('/submit?preset=cpu-tiny-training');
    const kv = await screen.findByLabelText('nKvHeads');
    await userEvent.clear(kv);
    await userEvent.type(kv, '3');
    await userEvent.click(screen.getByRole('button', { name: 'Submit experiment' }));

    const message = await screen.findByText('must divide nHeads (2), got 3');
    expect(kv).toHaveAttribute('aria-invalid', 'true');
    expect(kv.getAttribute('aria-describedby')).toBe(message.id);
    const steps = screen.getByLabelText('Steps');
    expect(steps).toHaveAttribute('aria-invalid', 'true');
    expect(within(steps.parentElement!).getByRole('alert')).toHaveTextContent('must be in [1, 1000000], got 0');
    // What matches no input is listed in the summary instead of being lost.
    expect(screen.getByText('something else')).toBeInTheDocument();
    await waitFor(() => expect(document.activeElement).toBe(kv));
    const sent = api.calls.find((c) => c.url === '/api/experiments')!.body as { variants: { nKvHeads: number }[] };
    expect(sent.variants[1].nKvHeads).toBe(3);
  });

  it('clears a server error once its field changes, and the banner once no field error is left', async () => {
    fakeApi({
      'GET /api/variants': { status: 503, body: {} },
      'POST /api/variants/cost': { body: COST },
      'POST /api/experiments': {
        status: 400,
        body: {
          title: 'Invalid experiment',
          status: 400,
          errors: [
            { field: 'name', message: 'must not be blank' },
            { field: 'variants', message: 'must not be empty' },
          ],
        },
      },
    });
    renderAt('/submit');
    await userEvent.click(screen.getByRole('button', { name: 'Submit experiment' }));
    await screen.findByText('must not be blank');
    expect(screen.getByText('must not be empty')).toBeInTheDocument();
    expect(screen.getByText('Invalid experiment')).toBeInTheDocument();

    const name = screen.getByLabelText('Name');
    await userEvent.type(name, 'mha-vs-gqa');
    expect(screen.queryByText('must not be blank')).toBeNull();
    expect(name).not.toHaveAttribute('aria-invalid', 'true');
    // The other field is still as submitted: its error and the banner stay.
    expect(screen.getByText('must not be empty')).toBeInTheDocument();
    expect(screen.getByText('Invalid experiment')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: '+ MHA' }));
    expect(screen.queryByText('must not be empty')).toBeNull();
    expect(screen.queryByText('Invalid experiment')).toBeNull();
  });

  it('shows what the cost model refuses beside the field while typing, before any submission', async () => {
    fakeApi({
      'GET /api/variants': { status: 503, body: {} },
      'POST /api/variants/cost': (c) => {
        const v = (c.body as { variant: { nHeads: number; nKvHeads?: number } }).variant;
        if (v.nKvHeads !== undefined && v.nHeads % v.nKvHeads !== 0)
          return { status: 400, body: { title: 'Invalid variant', status: 400, errors: [{ field: 'variant.nKvHeads', message: `must divide nHeads (${v.nHeads}), got ${v.nKvHeads}` }] } };
        return { body: COST };
      },
    });
    renderAt('/submit?preset=cpu-tiny-training');
    const kv = await screen.findByLabelText('nKvHeads');
    await userEvent.clear(kv);
    await userEvent.type(kv, '3');
    expect(await screen.findByText('must divide nHeads (2), got 3', { selector: '.field-error' }, { timeout: 2000 })).toBeInTheDocument();
    expect(kv).toHaveAttribute('aria-invalid', 'true');
    // Said once, beside the field: the cost panel below it does not repeat it.
    expect(screen.getAllByText(/must divide nHeads \(2\), got 3/)).toHaveLength(1);
    expect(screen.getByText(/Cost model: not computed until the fields marked above are fixed/)).toBeInTheDocument();
    await userEvent.clear(kv);
    await userEvent.type(kv, '2');
    await waitFor(() => expect(kv).not.toHaveAttribute('aria-invalid'), { timeout: 2000 });
  });

  it('submits the request and opens the new experiment', async () => {
    const api = fakeApi({
      'GET /api/variants': { status: 503, body: {} },
      'POST /api/variants/cost': { body: COST },
      'POST /api/experiments': { status: 201, body: { id: 'e-123', name: 'x', kind: 'BENCHMARK', status: 'QUEUED', runCount: 6, runs: [] } },
    });
    renderAt('/submit?preset=cpu-smoke-benchmark');
    await screen.findAllByText(/Variant 3/);
    await userEvent.click(screen.getByRole('button', { name: 'Submit experiment' }));
    expect(await screen.findByText('experiment page')).toBeInTheDocument();
    const sent = api.calls.find((c) => c.method === 'POST' && c.url === '/api/experiments')!.body as Record<string, unknown>;
    expect(sent).toMatchObject({ name: 'cpu smoke benchmark', kind: 'BENCHMARK', grid: { seqLen: [32, 64] } });
    expect(sent.training).toBeUndefined();
  });

  it('shows the equivalent curl command of the current form', async () => {
    fakeApi({ 'GET /api/variants': { status: 503, body: {} }, 'POST /api/variants/cost': { body: COST } });
    renderAt('/submit?preset=equal-kv-quality');
    await screen.findAllByText(/Variant 5/);
    const curl = screen.getByTestId('curl').textContent!;
    expect(curl).toMatch(/^curl -sS -X POST '.*\/api\/experiments'/);
    const json = curl.slice(curl.indexOf("--data '") + 8, curl.lastIndexOf("'"));
    expect(JSON.parse(json)).toMatchObject({ name: 'equal-KV quality comparison', kind: 'TRAINING', grid: { seed: [1, 2, 3] } });
  });

  it('says that an OVQ variant trains as an SWA/OVQ hybrid whose cost panel shows the OVQ layer only', async () => {
    fakeApi({ 'GET /api/variants': { status: 503, body: {} }, 'POST /api/variants/cost': { body: COST } });
    renderAt('/submit?preset=ovq-recall');
    await screen.findAllByText(/Variant 2/);
    expect(screen.getByTestId('f-variants-1-hybrid-note')).toHaveTextContent('window 32');
    expect(screen.queryByTestId('f-variants-0-hybrid-note')).toBeNull(); // MHA
    await userEvent.click(screen.getByRole('radio', { name: 'Benchmark' }));
    expect(screen.queryByTestId('f-variants-1-hybrid-note')).toBeNull(); // one layer is benchmarked, no model
  });

  it('lets keyboard users reach (and so scroll) the curl command, a long line (axe scrollable-region-focusable)', async () => {
    fakeApi({ 'GET /api/variants': { status: 503, body: {} }, 'POST /api/variants/cost': { body: COST } });
    renderAt('/submit?preset=ovq-vs-mha-scaling');
    await screen.findAllByText(/Variant 2/);
    expect(screen.getByTestId('curl')).toHaveAttribute('tabindex', '0');
    expect(screen.getByTestId('curl')).toHaveAccessibleName('Equivalent curl command');
  });

  it('copies an earlier experiment into the form to edit and submit again', async () => {
    fakeApi({
      'GET /api/variants': { status: 503, body: {} },
      'POST /api/variants/cost': { body: COST },
      'GET /api/experiments/e1': {
        body: { id: 'e1', name: 'old', kind: 'TRAINING', status: 'SUCCEEDED', request: { name: 'old', kind: 'TRAINING', variants: [{ family: 'cca', dModel: 64, nHeads: 2, headDim: 16, conv: { qkMean: false } }], grid: { seed: [1, 2] }, training: { steps: 50 } } },
      },
    });
    renderAt('/submit?from=e1');
    expect(await screen.findByDisplayValue('old (again)')).toBeInTheDocument();
    expect(screen.getByLabelText('headDim')).toHaveValue('16');
    expect(screen.getByLabelText('conv qkMean')).toHaveValue('false');
    expect(screen.getByLabelText('Steps')).toHaveValue('50');
    expect(screen.getByTestId('run-count')).toHaveTextContent('2 runs');
  });

  it('uses the api catalog presets when it answers', async () => {
    fakeApi({
      'GET /api/variants': {
        body: {
          families: [{ family: 'gqa', title: 'Grouped', parameters: [{ name: 'dModel', type: 'int' }, { name: 'nHeads', type: 'int' }, { name: 'nKvHeads', type: 'int' }], defaultConfig: { family: 'gqa', dModel: 2048, nHeads: 16, nKvHeads: 4 }, presets: [{ name: 'GQA-XL', description: 'big', config: { family: 'gqa', dModel: 4096, nHeads: 32, nKvHeads: 8 } }] }],
        },
      },
      'POST /api/variants/cost': { body: COST },
    });
    renderAt('/submit');
    const select = await screen.findByLabelText('Add a catalog preset');
    await waitFor(() => expect(within(select).getByRole('option', { name: /GQA-XL/ })).toBeInTheDocument());
    await act(async () => {
      await userEvent.selectOptions(select, 'gqa/GQA-XL');
    });
    expect(screen.getByLabelText('dModel')).toHaveValue('4096');
    expect(screen.getByLabelText('nKvHeads')).toHaveValue('8');
  });

  it('sends the deterministic backward checkbox in the base spec and shows its field error beside it', async () => {
    const api = fakeApi({
      'GET /api/variants': { status: 503, body: {} },
      'POST /api/variants/cost': { body: COST },
      'POST /api/experiments': {
        status: 400,
        body: { title: 'Invalid experiment', status: 400, errors: [{ field: 'training.deterministic', message: 'must be true or false, got "yes"' }] },
      },
    });
    renderAt('/submit?preset=cpu-tiny-training');
    const box = await screen.findByRole('checkbox', { name: 'deterministic backward' });
    expect(box).not.toBeChecked();
    await userEvent.click(box);
    await userEvent.click(screen.getByRole('button', { name: 'Submit experiment' }));
    await waitFor(() => expect(api.calls.some((c) => c.method === 'POST' && c.url === '/api/experiments')).toBe(true));
    const post = api.calls.find((c) => c.method === 'POST' && c.url === '/api/experiments')!;
    expect((post.body as { training: { deterministic?: boolean } }).training.deterministic).toBe(true);
    expect(await screen.findByText('must be true or false, got "yes"')).toBeInTheDocument();
    expect(screen.getByRole('checkbox', { name: 'deterministic backward' })).toHaveAttribute('aria-invalid', 'true');
  });

  it('labels the training fields readably, shows their defaults and the datasets the api accepts', async () => {
    fakeApi({ 'GET /api/variants': { status: 503, body: {} }, 'POST /api/variants/cost': { body: COST } });
    renderAt('/submit');
    await userEvent.click(screen.getByRole('radio', { name: 'Training' }));
    expect(screen.getByLabelText('Learning rate')).toHaveAttribute('placeholder', '0.003');
    expect(screen.getByLabelText('Layers')).toHaveAttribute('placeholder', '2');
    expect(screen.queryByLabelText('learningRate')).toBeNull();
    const dataset = screen.getByLabelText('Dataset');
    expect(dataset).toHaveAccessibleDescription(/recall, icr, picr, linreg .* brown, nlp-corpus or file:<path>/);
    const options = [...document.querySelectorAll(`#${dataset.getAttribute('list')} option`)].map((o) => o.getAttribute('value'));
    expect(options).toEqual(['recall', 'icr', 'picr', 'linreg', 'brown', 'nlp-corpus', 'file:']);
  });
});
