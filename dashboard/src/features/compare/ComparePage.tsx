import { useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { LineChart } from '../../shared/charts/LineChart';
import { colorFor } from '../../shared/charts/palette';
import { ScatterChart } from '../../shared/charts/ScatterChart';
import type { MetricPoint } from '../../shared/api/types';
import { PHASES, SCOPES } from '../../shared/api/types';
import { bytes, fixed, shortId, si, sig } from '../../shared/format';
import { CopyButton } from '../../shared/ui/CopyButton';
import { Empty, ErrorBanner, Loading } from '../../shared/ui/States';
import { useAsync } from '../../shared/useAsync';
import { experimentsApi } from '../experiments/api';
import { cellKvBytes, loadCompare, loadSeries, MAX_CURVES, problemText, UUID_PATTERN, type ComparedRun } from './api';
import { runsApi } from '../runs/api';
import { ApiError } from '../../shared/api/http';
import { defaultBaseline } from './baseline';
import { diffConfigs } from './configDiff';
import { downloadCsv, toCsv } from './csv';
import { higherIsBetter, minSpanDomain, modelCostPerLayer, paretoFrontier, swaLayers } from './pareto';
import { parseCompare, serializeCompare, type CompareState } from './permalink';
import { cellRatios, seqLenSeries, trainingRatios, type TrainingSummary } from './ratios';
import { aggregateCurves } from './aggregate';
import { curve } from './smoothing';

function summarize(r: ComparedRun, series: Record<string, MetricPoint[]> | undefined): TrainingSummary {
  const train = series?.['train/loss'] ?? [];
  const val = series?.['val/loss'] ?? [];
  return {
    runId: r.run.id,
    label: `${r.label} · seed ${r.run.spec?.seed ?? r.run.seed ?? '?'}`,
    variantKey: r.variantKey,
    finalTrainLoss: train.length ? train[train.length - 1].value : undefined,
    minValLoss: val.length ? Math.min(...val.map((p) => p.value)) : undefined,
  };
}

/** Table rows and columns drawn before asking: a 1000-run sweep has thousands of cells. */
const RATIO_ROWS = 500;
const DIFF_COLUMNS = 40;
/** The Pareto's quality axis spans at least this share of its values: equal runs are drawn level, not spread by noise. */
const PARETO_MIN_SPAN = 0.04;

function ratioText(v: number | undefined): string {
  return v === undefined ? '—' : `${v.toFixed(2)}×`;
}

/** Runs or experiments side by side against a baseline variant; the URL is the permalink. */
export function ComparePage() {
  const [params, setParams] = useSearchParams();
  const state = useMemo(() => parseCompare(params), [params]);
  const [addId, setAddId] = useState('');
  const [addError, setAddError] = useState<string>();
  const [allRatioRows, setAllRatioRows] = useState(false);
  const setState = (patch: Partial<CompareState>) => setParams(serializeCompare({ ...state, ...patch }), { replace: true });

  const data = useAsync((signal) => loadCompare(state.runs, state.experiments, signal), [state.runs.join(','), state.experiments.join(',')]);
  const runs = data.data?.runs ?? [];
  const series = useAsync((signal) => loadSeries(runs, state.metric, signal), [data.data, state.metric]);
  const recent = useAsync((signal) => experimentsApi.list({ size: 15, sort: 'createdAt,desc' }, signal), []);

  // One baseline per kind: a benchmark run cannot be the baseline of a loss, nor a training run of a latency.
  // The chosen run serves its own kind; a kind without one gets the default the api also uses (baseline.ts).
  const chosen = runs.find((r) => r.run.id === state.baseline);
  const baselineOf = (kind: string) => (chosen?.run.kind === kind ? chosen : defaultBaseline(runs, kind));
  const benchmarkBaseline = baselineOf('BENCHMARK');
  const trainingBaseline = baselineOf('TRAINING');
  const baselineId = chosen?.run.id ?? (trainingBaseline ?? benchmarkBaseline)?.run.id;
  const benchmark = runs.filter((r) => r.run.kind === 'BENCHMARK');
  const training = runs.filter((r) => r.run.kind === 'TRAINING');
  const runById = new Map(benchmark.map((r) => [r.run.id, r]));
  const runCells = benchmark.map((r) => ({ runId: r.run.id, label: r.label, variantKey: r.variantKey, cells: r.cells }));
  // OVQ has no attention core apart from its projections: its CORE cells time the whole layer (contracts.md).
  const layerAsCore = new Set(benchmark.filter((r) => r.run.family === 'ovq').map((r) => r.run.id));
  const coreIsLayer = (runId: string, scope: string) => scope === 'CORE' && layerAsCore.has(runId);
  // The table (and its CSV) shows the cells of the chosen phase (or all) and scope, as the charts do.
  const allRatios = cellRatios(runCells, benchmarkBaseline?.run.id);
  const ratios = allRatios.filter((r) => (state.phase === 'ALL' || r.cell.phase === state.phase) && (!(SCOPES as readonly string[]).includes(state.scope) || r.cell.scope === state.scope));
  const layerAsCoreShown = layerAsCore.size > 0 && state.scope === 'CORE';
  const summaries = training.map((r) => summarize(r, series.data?.[r.run.id]));
  const tRatios = trainingRatios(summaries, trainingBaseline?.run.id);
  const variantColors = new Map<string, string>();
  for (const r of runs) if (!variantColors.has(r.variantKey)) variantColors.set(r.variantKey, colorFor(variantColors.size));

  // Pareto: one point per variant, its seeds averaged; x from the exact cost model. Its quality axis is the chosen
  // metric at its best (a loss's minimum, an accuracy's maximum); for the default train/loss, the validation loss
  // (else the final train loss), as a measure of quality rather than of fit.
  const paretoMetric = state.metric === 'train/loss' ? 'val/loss' : state.metric;
  const paretoHigher = higherIsBetter(paretoMetric, data.data?.directions?.[paretoMetric]);
  const pareto = useMemo(() => {
    const byVariant = new Map<string, { label: string; x?: number; ys: number[] }>();
    for (const r of training) {
      const s = summaries.find((x) => x.runId === r.run.id);
      const values = (series.data?.[r.run.id]?.[paretoMetric] ?? []).map((p) => p.value).filter(Number.isFinite);
      const best = values.length === 0 ? undefined : paretoHigher ? Math.max(...values) : Math.min(...values);
      const y = best ?? (paretoMetric === 'val/loss' ? s?.finalTrainLoss : undefined);
      const nLayers = r.run.spec?.training?.nLayers ?? 2; // TrainingSpec's default
      const x = modelCostPerLayer(state.pareto, r.cost, swaLayers(r.run.spec?.variant, nLayers), nLayers, r.swaCost);
      const e = byVariant.get(r.variantKey) ?? { label: r.label, x, ys: [] };
      if (y !== undefined) e.ys.push(y);
      byVariant.set(r.variantKey, e);
    }
    const points = [...byVariant.entries()]
      .filter(([, e]) => e.x !== undefined && e.ys.length > 0)
      .map(([key, e]) => ({ key, label: e.label, x: e.x!, y: e.ys.reduce((a, b) => a + b, 0) / e.ys.length, color: variantColors.get(key) ?? '#000' }));
    const frontier = paretoFrontier(points, paretoHigher);
    const on = new Set(frontier.map((p) => p.key));
    return { points: points.map((p) => ({ ...p, onFrontier: on.has(p.key) })), frontier, yDomain: minSpanDomain(points.map((p) => p.y), PARETO_MIN_SPAN) };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data.data, series.data, state.pareto, paretoMetric]);

  // Curves: one per run, or with seeds averaged one per variant (its seeds' range shaded).
  const curveSeries = (() => {
    if (!series.data) return [];
    const perRun = training.map((r) => ({ r, points: curve(series.data?.[r.run.id]?.[state.metric] ?? [], state.x, state.smooth) }));
    if (state.seeds === 'each') {
      return perRun.map(({ r, points }) => ({
        key: r.run.id,
        label: `${r.label} · seed ${r.run.spec?.seed ?? '?'}${r.run.id === trainingBaseline?.run.id ? ' (baseline)' : ''}`,
        color: variantColors.get(r.variantKey) ?? '#000',
        dashed: r.run.id === trainingBaseline?.run.id,
        points,
      }));
    }
    const groups = new Map<string, { label: string; curves: { x: number; y: number }[][] }>();
    for (const { r, points } of perRun) {
      const g = groups.get(r.variantKey) ?? { label: r.label, curves: [] };
      g.curves.push(points);
      groups.set(r.variantKey, g);
    }
    return [...groups.entries()].map(([key, g]) => {
      const bands = aggregateCurves(g.curves);
      const isBase = key === trainingBaseline?.variantKey;
      return {
        key,
        label: `${g.label} · mean of ${g.curves.length} seed${g.curves.length === 1 ? '' : 's'}${isBase ? ' (baseline)' : ''}`,
        color: variantColors.get(key) ?? '#000',
        dashed: isBase,
        points: bands.map((b) => ({ x: b.x, y: b.mean })),
        band: g.curves.length > 1 ? bands : undefined,
      };
    });
  })();

  const benchPhases = state.phase === 'ALL' ? PHASES.filter((p) => runCells.some((r) => r.cells.some((c) => c.phase === p))) : [state.phase];

  // Keys are diffed over every run; columns stop at DIFF_COLUMNS so a large sweep stays readable.
  const diff = diffConfigs(runs.map((r) => ({ id: r.run.id, config: r.run.spec })));
  const diffRuns = runs.slice(0, DIFF_COLUMNS);
  const permalink = typeof window === 'undefined' ? '' : window.location.href;
  const metricOptions = [...new Set(['train/loss', 'val/loss', ...(data.data?.metricNames ?? [])])];

  const exportCells = () =>
    downloadCsv(
      'compare-cells.csv',
      toCsv(
        ['run', 'variant', 'phase', 'scope', 'causal', 'batch', 'seqLen', 'dtype', 'p50Ms', 'tflops', 'baselineP50Ms', 'speedup', 'tflopsRatio'],
        ratios.map((r) => [r.runId, r.label, r.cell.phase, r.cell.scope, r.cell.causal, r.cell.batch, r.cell.seqLen, r.cell.dtype, r.cell.p50Ms, r.cell.tflops, r.baseline?.p50Ms, r.speedup, r.tflopsRatio]),
      ),
    );
  const exportTraining = () =>
    downloadCsv(
      'compare-training.csv',
      toCsv(
        ['run', 'variant', 'finalTrainLoss', 'minValLoss', 'trainLossRatio', 'valLossRatio'],
        tRatios.map((r) => [r.runId, r.label, r.finalTrainLoss, r.minValLoss, r.trainLossRatio, r.valLossRatio]),
      ),
    );

  const nothing = state.runs.length === 0 && state.experiments.length === 0;
  return (
    <section aria-labelledby="compare-title">
      <div className="title-row">
        <h1 id="compare-title">Compare</h1>
        {!nothing ? <CopyButton text={permalink} label="Copy permalink" /> : null}
      </div>

      <fieldset className="compare-selection">
        <legend>What to compare</legend>
        <ul className="chips">
          {state.experiments.map((id) => (
            <li className="chip" key={`e${id}`}>
              experiment <Link to={`/experiments/${id}`}>{shortId(id)}</Link>{' '}
              <button type="button" aria-label={`Remove experiment ${shortId(id)}`} onClick={() => setState({ experiments: state.experiments.filter((x) => x !== id) })}>
                ×
              </button>
            </li>
          ))}
          {state.runs.map((id) => (
            <li className="chip" key={`r${id}`}>
              run <Link to={`/runs/${id}`}>{shortId(id)}</Link>{' '}
              <button type="button" aria-label={`Remove run ${shortId(id)}`} onClick={() => setState({ runs: state.runs.filter((x) => x !== id) })}>
                ×
              </button>
            </li>
          ))}
        </ul>
        <form
          className="filters"
          onSubmit={async (e) => {
            e.preventDefault();
            const id = addId.trim();
            if (!id) return;
            if (!UUID_PATTERN.test(id)) {
              setAddError(`“${id}” is not a run or experiment id: ids are UUIDs such as 123e4567-e89b-42d3-a456-426614174000.`);
              return;
            }
            if (state.runs.includes(id) || state.experiments.includes(id)) {
              setAddId('');
              return;
            }
            // An id is an experiment's when the api knows it as one, a run's when it knows it as that.
            const isExperiment = recent.data?.items.some((x) => x.id === id) || (await experimentsApi.get(id).then(() => true, () => false));
            if (!isExperiment) {
              const problem = await runsApi.get(id).then(
                () => undefined,
                (err: unknown) => (err instanceof ApiError && err.problem.status === 404 ? `No run or experiment has the id ${id}.` : `Cannot check ${id}: ${problemText(err)}`),
              );
              if (problem) {
                setAddError(problem);
                return;
              }
            }
            setAddError(undefined);
            setState(isExperiment ? { experiments: [...state.experiments, id] } : { runs: [...state.runs, id] });
            setAddId('');
          }}
        >
          <label>
            Add a run or experiment id{' '}
            <input
              value={addId}
              aria-invalid={addError ? true : undefined}
              aria-describedby={addError ? 'compare-add-error' : undefined}
              onChange={(e) => {
                setAddId(e.target.value);
                setAddError(undefined);
              }}
            />
          </label>
          <button type="submit">Add</button>
          {addError ? (
            <span id="compare-add-error" className="field-error" role="alert">
              {addError}
            </span>
          ) : null}
          <label>
            Add an experiment
            <select
              value=""
              onChange={(e) => {
                if (e.target.value && !state.experiments.includes(e.target.value)) setState({ experiments: [...state.experiments, e.target.value] });
              }}
            >
              <option value="">choose…</option>
              {recent.data?.items.map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name} ({x.kind?.toLowerCase()}, {shortId(x.id)})
                </option>
              ))}
            </select>
          </label>
        </form>
      </fieldset>

      {nothing ? <Empty>Choose runs or experiments to compare: select runs in a table, or add an experiment above.</Empty> : null}
      <ErrorBanner error={data.error} onRetry={data.reload} />
      {data.data && data.data.failed.length > 0 ? (
        <div role="alert" className="error-banner" data-testid="compare-failed">
          <strong>
            {data.data.failed.length === 1 ? 'One run' : `${data.data.failed.length} runs`} could not be loaded; the rest is compared without {data.data.failed.length === 1 ? 'it' : 'them'}.
          </strong>
          <ul>
            {data.data.failed.map((f) => (
              <li key={f.id}>
                run <code>{f.id}</code>: {f.message}{' '}
                <button type="button" aria-label={`Remove run ${f.id}`} onClick={() => setState({ runs: state.runs.filter((x) => x !== f.id) })}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {!nothing && !data.data && data.loading ? <Loading what="the runs" /> : null}
      {data.data && data.data.truncated > 0 ? (
        <p role="status" className="warning">
          Showing {runs.length} runs; {data.data.truncated} more are left out. Narrow the selection to see them.
        </p>
      ) : null}

      {runs.length > 0 ? (
        <>
          <fieldset className="compare-controls">
            <legend>View</legend>
            <label>
              Baseline
              <select id="compare-baseline" value={baselineId ?? ''} onChange={(e) => setState({ baseline: e.target.value })}>
                {runs.map((r) => (
                  <option key={r.run.id} value={r.run.id}>
                    {r.label} ({shortId(r.run.id)})
                  </option>
                ))}
              </select>
            </label>
            {training.length > 0 ? (
              <>
                <label>
                  Metric
                  <select value={state.metric} onChange={(e) => setState({ metric: e.target.value })}>
                    {metricOptions.map((m) => (
                      <option key={m}>{m}</option>
                    ))}
                  </select>
                </label>
                <fieldset className="segmented">
                  <legend>x axis</legend>
                  {(['step', 'tokens', 'time'] as const).map((x) => (
                    <label key={x}>
                      <input type="radio" name="x-axis" checked={state.x === x} onChange={() => setState({ x })} /> {x}
                    </label>
                  ))}
                </fieldset>
                <label>
                  Smoothing {state.smooth.toFixed(2)}
                  <input type="range" min={0} max={0.99} step={0.01} value={state.smooth} onChange={(e) => setState({ smooth: Number(e.target.value) })} />
                </label>
                <label>
                  <input type="checkbox" checked={state.logY} onChange={(e) => setState({ logY: e.target.checked })} /> log y
                </label>
                <label>
                  Seeds
                  <select value={state.seeds} onChange={(e) => setState({ seeds: e.target.value as 'each' | 'mean' })}>
                    <option value="each">one curve each</option>
                    <option value="mean">mean per variant (range shaded)</option>
                  </select>
                </label>
                <label>
                  Pareto x
                  <select value={state.pareto} onChange={(e) => setState({ pareto: e.target.value as 'kv' | 'flops' })}>
                    <option value="kv">cache + state bytes per token</option>
                    <option value="flops">prefill FLOPs</option>
                  </select>
                </label>
              </>
            ) : null}
            {benchmark.length > 0 ? (
              <>
                <label>
                  Phase
                  <select value={state.phase} onChange={(e) => setState({ phase: e.target.value })}>
                    <option value="ALL">all phases</option>
                    {PHASES.map((p) => (
                      <option key={p}>{p}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Scope
                  <select value={state.scope} onChange={(e) => setState({ scope: e.target.value })}>
                    {SCOPES.map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                </label>
              </>
            ) : null}
          </fieldset>

          {training.length > 0 ? (
            <section aria-labelledby="curves-title">
              <h2 id="curves-title">Training curves</h2>
              {training.length > MAX_CURVES ? (
                <p role="status" className="warning">
                  Curves of the first {MAX_CURVES} of {training.length} training runs; the tables and the Pareto plot cover them all once loaded.
                </p>
              ) : null}
              <ErrorBanner error={series.error} />
              {series.data ? (
                <LineChart
                  title={`${state.metric} vs ${state.x}`}
                  xLabel={state.x === 'time' ? 'seconds' : state.x}
                  yLabel={state.metric}
                  yLog={state.logY}
                  width={900}
                  height={360}
                  series={curveSeries}
                />
              ) : (
                <Loading what="metric series" />
              )}
              <h3>Losses against the baseline</h3>
              <p className="muted">Baseline: {trainingBaseline ? `${trainingBaseline.label} (${shortId(trainingBaseline.run.id)}), mean over its seeds` : 'none'}</p>
              <table className="data-table" data-testid="training-ratios">
                <thead>
                  <tr>
                    <th scope="col">Run</th>
                    <th scope="col">Variant</th>
                    <th scope="col">Final train loss</th>
                    <th scope="col">Min val loss</th>
                    <th scope="col">Train loss ratio</th>
                    <th scope="col">Val loss ratio</th>
                  </tr>
                </thead>
                <tbody>
                  {tRatios.map((r) => (
                    <tr key={r.runId} className={r.isBaseline ? 'baseline-row' : undefined}>
                      <td>
                        <Link to={`/runs/${r.runId}`}>{shortId(r.runId)}</Link>
                      </td>
                      <td>
                        {r.label}
                        {r.isBaseline ? ' (baseline)' : ''}
                      </td>
                      <td>{fixed(r.finalTrainLoss, 4)}</td>
                      <td>{fixed(r.minValLoss, 4)}</td>
                      <td className="ratio">{ratioText(r.trainLossRatio)}</td>
                      <td className="ratio">{ratioText(r.valLossRatio)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <button type="button" onClick={exportTraining}>
                Export losses as CSV
              </button>
              <h3>Cost against quality</h3>
              <ScatterChart
                title={`Pareto: ${state.pareto === 'kv' ? 'cache + state bytes per token' : 'prefill FLOPs'} vs ${paretoMetric === 'val/loss' ? 'validation loss' : paretoMetric}`}
                xLabel={state.pareto === 'kv' ? 'KV cache + state bytes per token, mean over the layers' : 'prefill FLOPs, mean over the layers'}
                yLabel={`${paretoMetric} (${paretoHigher ? 'max' : 'min'}, mean over seeds), ${paretoHigher ? 'higher ↑' : 'lower ↓'} is better`}
                xLog
                yDomain={pareto.yDomain}
                width={900}
                height={360}
                points={pareto.points}
                frontier={pareto.frontier}
              />
              <ul className="legend">
                {pareto.points.map((p) => (
                  <li key={p.key}>
                    <span className="swatch" style={{ background: p.color }} aria-hidden="true" />
                    {p.label}: {si(p.x)}, {p.y.toFixed(4)}
                    {p.onFrontier ? ' — on the frontier' : ''}
                  </li>
                ))}
              </ul>
            </section>
          ) : null}

          {benchmark.length > 0 ? (
            <section aria-labelledby="bench-title">
              <h2 id="bench-title">Kernels: {state.phase === 'ALL' ? 'every phase' : state.phase.toLowerCase()}, {state.scope.toLowerCase()}</h2>
              {benchPhases.map((phase) => (
                <div key={phase}>
                  {state.phase === 'ALL' ? <h3>{phase.toLowerCase()}</h3> : null}
                  <div className="chart-grid">
                    {(['p50Ms', 'tflops'] as const).map((v) => (
                      <LineChart
                        key={v}
                        title={`${v === 'p50Ms' ? 'Latency (p50)' : 'TFLOP/s'} vs sequence length${state.phase === 'ALL' ? `, ${phase.toLowerCase()}` : ''}`}
                        xLabel="sequence length"
                        yLabel={v === 'p50Ms' ? 'ms' : 'TFLOP/s'}
                        xLog
                        yLog={v === 'p50Ms'}
                        markers
                        series={seqLenSeries(runCells, phase, state.scope, v).map((s) => ({ key: s.variantKey, label: s.label, color: variantColors.get(s.variantKey) ?? '#000', points: s.points }))}
                      />
                    ))}
                  </div>
                </div>
              ))}
              <h3>Ratio to the baseline per cell</h3>
              <p className="muted">Baseline: {benchmarkBaseline ? `${benchmarkBaseline.label} (${shortId(benchmarkBaseline.run.id)}), matched per phase, scope, causal, batch, sequence length and dtype` : 'none'}</p>
              {ratios.length === 0 ? (
                <Empty>{allRatios.length === 0 ? 'No benchmark cells yet.' : `No cells of phase ${state.phase === 'ALL' ? 'any' : state.phase.toLowerCase()} and scope ${state.scope.toLowerCase()}: choose another above.`}</Empty>
              ) : (
                <table className="data-table" data-testid="cell-ratios">
                  <thead>
                    <tr>
                      {['Variant', 'Run', 'Phase', 'Scope', 'Seq len', 'Batch', 'dtype', 'KV bytes / token', 'p50 ms', 'Baseline p50 ms', 'Speed-up', 'TFLOP/s', 'TFLOP/s ratio'].map((h) => (
                        <th scope="col" key={h}>
                          {h}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {(allRatioRows ? ratios : ratios.slice(0, RATIO_ROWS)).map((r) => (
                      <tr key={`${r.runId}${r.key}`} className={r.isBaseline ? 'baseline-row' : undefined}>
                        <td>
                          {r.label}
                          {r.isBaseline ? ' (baseline)' : ''}
                        </td>
                        <td>
                          <Link to={`/runs/${r.runId}`}>{shortId(r.runId)}</Link>
                        </td>
                        <td>{r.cell.phase}</td>
                        <td title={coreIsLayer(r.runId, r.cell.scope) ? 'OVQ: this CORE cell times the whole layer, projections included' : undefined}>
                          {r.cell.scope}
                          {coreIsLayer(r.runId, r.cell.scope) ? ' = layer*' : ''}
                        </td>
                        <td>{r.cell.seqLen}</td>
                        <td>{r.cell.batch}</td>
                        <td>{r.cell.dtype}</td>
                        {(() => {
                          const kv = cellKvBytes(runById.get(r.runId), r.cell);
                          return <td title={kv.modelled ? `cost model at ${r.cell.dtype}: the cell records none` : undefined}>{bytes(kv.bytes)}</td>;
                        })()}
                        <td>{sig(r.cell.p50Ms)}</td>
                        <td>{sig(r.baseline?.p50Ms)}</td>
                        <td className="ratio">{ratioText(r.speedup)}</td>
                        <td>{sig(r.cell.tflops)}</td>
                        <td className="ratio">{ratioText(r.tflopsRatio)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              {layerAsCoreShown ? (
                <p className="muted" data-testid="ovq-core-note">
                  * OVQ has no attention core apart from its projections: its CORE cells (and its CORE curves) time the whole layer, so a CORE ratio
                  between OVQ and another variant sets a layer against a core. Compare OVQ at scope LAYER.
                </p>
              ) : null}
              {ratios.length > RATIO_ROWS && !allRatioRows ? (
                <p role="status">
                  Showing {RATIO_ROWS} of {ratios.length} cells (the CSV export has them all).{' '}
                  <button type="button" onClick={() => setAllRatioRows(true)}>
                    Show all
                  </button>
                </p>
              ) : null}
              <button type="button" onClick={exportCells}>
                Export cells as CSV
              </button>
            </section>
          ) : null}

          <section aria-labelledby="diff-title">
            <h2 id="diff-title">Config differences</h2>
            {runs.length > DIFF_COLUMNS ? <p className="muted">Keys that differ across all {runs.length} runs; columns for the first {DIFF_COLUMNS}.</p> : null}
            {diff.keys.length === 0 ? (
              <Empty>The compared runs share one configuration.</Empty>
            ) : (
              <div className="scroll-x">
                <table className="data-table" data-testid="config-diff">
                  <thead>
                    <tr>
                      <th scope="col">Key</th>
                      {diffRuns.map((r) => (
                        <th scope="col" key={r.run.id}>
                          {shortId(r.run.id)}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {diff.keys.map((k) => (
                      <tr key={k}>
                        <th scope="row">
                          <code>{k}</code>
                        </th>
                        {diffRuns.map((r) => (
                          <td key={r.run.id}>{diff.values[r.run.id][k]}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      ) : null}
    </section>
  );
}
