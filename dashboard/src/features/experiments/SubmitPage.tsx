import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { endpoints } from '../../shared/api/endpoints';
import { ApiError, type FieldError } from '../../shared/api/http';
import type { CreateExperimentRequest, Family } from '../../shared/api/types';
import { DTYPES, PHASES, SCOPES } from '../../shared/api/types';
import { CopyButton } from '../../shared/ui/CopyButton';
import { useAsync } from '../../shared/useAsync';
import { runsApi } from '../runs/api';
import { experimentsApi } from './api';
import { BUILT_IN_FAMILIES, type FamilySpec } from './catalog';
import { curlCommand } from './curl';
import { DeterministicField, FieldMessages, TextField, inputProps, type ErrorMap } from './Field';
import { currentErrors, fieldId, mapFieldErrors } from './fieldErrors';
import {
  BENCHMARK_GRID_PARAMS,
  TRAINING_FIELD_INFO,
  TRAINING_FIELDS,
  TRAINING_GRID_PARAMS,
  costSeqLen,
  draftFromConfig,
  formFromRequest,
  initialForm,
  runCount,
  toRequest,
  uid,
  variantToConfig,
  type FormState,
} from './form';
import { formPaths } from './formPaths';
import { GridEditor } from './GridEditor';
import { EXPERIMENT_PRESETS } from './presets';
import { VariantEditor } from './VariantEditor';

const MAX_RUNS = 1000;

function toggle(list: string[], value: string): string[] {
  return list.includes(value) ? list.filter((v) => v !== value) : [...list, value];
}

/** Builds a request that repeats one run: its variant, its base spec and its seed. */
export async function rerunRequest(runId: string): Promise<CreateExperimentRequest> {
  const run = await runsApi.get(runId);
  const spec = run.spec;
  return {
    name: `re-run of ${run.id.slice(0, 8)}`,
    description: `Repeats run ${run.id}`,
    kind: spec.kind,
    variants: [spec.variant],
    grid: { seed: [spec.seed] },
    ...(spec.kind === 'BENCHMARK' ? { benchmark: spec.benchmark ?? {} } : { training: spec.training ?? {} }),
  };
}

export function SubmitPage() {
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const catalog = useAsync((signal) => experimentsApi.catalog(signal), []);
  const families: FamilySpec[] = catalog.data ?? BUILT_IN_FAMILIES;
  const [form, setForm] = useState<FormState>(initialForm);
  const [serverErrors, setErrors] = useState<ErrorMap>({});
  // The request as last submitted: a server error stays only while its field still holds the value it judged.
  const [submittedRequest, setSubmittedRequest] = useState<CreateExperimentRequest>();
  const [summary, setSummary] = useState<{ title: string; detail?: string; unmatched: FieldError[] }>();
  const [submitting, setSubmitting] = useState(false);
  const [variantPreset, setVariantPreset] = useState('');
  // Field errors the cost model found while typing, per variant card (uid), in its own paths (variant.x).
  const [liveErrors, setLiveErrors] = useState<Record<string, FieldError[]>>({});
  // Each variant's JSON as last submitted: a cost answer about that same JSON says nothing newer.
  const submitted = useRef<Record<string, string>>({});

  const rerunOf = search.get('rerun');
  const presetId = search.get('preset');
  const fromExperiment = search.get('from');
  useEffect(() => {
    if (fromExperiment) {
      experimentsApi
        .get(fromExperiment)
        .then((e) => {
          if (!e.request) throw new Error('the api did not return the submission of this experiment');
          setForm(formFromRequest({ ...e.request, name: `${e.request.name} (again)` }, families));
        })
        .catch((e: Error) => setSummary({ title: 'Cannot load the experiment to copy', detail: e.message, unmatched: [] }));
    } else if (rerunOf) {
      rerunRequest(rerunOf)
        .then((req) => setForm(formFromRequest(req, families)))
        .catch((e: Error) => setSummary({ title: 'Cannot load the run to re-run', detail: e.message, unmatched: [] }));
    } else if (presetId) {
      const preset = EXPERIMENT_PRESETS.find((p) => p.id === presetId);
      if (preset) setForm(formFromRequest(preset.request, families));
    }
    // The catalog only refines labels, so a late catalog does not reload the form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rerunOf, presetId, fromExperiment]);

  const request = useMemo(() => toRequest(form), [form]);
  const errors = useMemo(() => currentErrors(serverErrors, submittedRequest, request), [serverErrors, submittedRequest, request]);
  // The banner of a rejected submission goes once the user has fixed (changed) every field it pointed at,
  // unless it lists errors no field shows.
  const bannerStale =
    summary !== undefined && submittedRequest !== undefined && Object.keys(serverErrors).length > 0 && Object.keys(errors).length === 0 && summary.unmatched.length === 0;
  // Shown beside the fields before any submission; a submission's own errors win where both speak.
  const shownErrors = useMemo(() => {
    const live = form.variants.flatMap((v, i) => (liveErrors[v.uid] ?? []).map((e) => ({ field: e.field.replace(/^variant(?=[.[]|$)/, `variants[${i}]`), message: e.message })));
    if (live.length === 0) return errors;
    return { ...mapFieldErrors(live, formPaths(form, families)).byPath, ...errors };
  }, [liveErrors, errors, form, families]);
  const runs = runCount(form);
  const seqLen = costSeqLen(form);
  const origin = typeof window === 'undefined' ? '' : window.location.origin;
  const set = (patch: Partial<FormState>) => setForm((f) => ({ ...f, ...patch }));

  const applyPreset = (id: string) => {
    const preset = EXPERIMENT_PRESETS.find((p) => p.id === id);
    if (!preset) return;
    setForm(formFromRequest(preset.request, families));
    setErrors({});
    setSubmittedRequest(undefined);
    setSummary(undefined);
  };

  const addVariant = (family: Family) => {
    const spec = families.find((f) => f.family === family);
    if (spec) set({ variants: [...form.variants, draftFromConfig(spec.defaultConfig, spec)] });
  };

  const addCatalogPreset = (key: string) => {
    const [family, name] = key.split('/');
    const spec = families.find((f) => f.family === family);
    const preset = spec?.presets.find((p) => p.name === name);
    if (spec && preset) set({ variants: [...form.variants, draftFromConfig(preset.config, spec)] });
    setVariantPreset('');
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitting(true);
    setErrors({});
    setSubmittedRequest(request);
    submitted.current = Object.fromEntries(form.variants.map((v) => [v.uid, JSON.stringify(variantToConfig(v))]));
    setSummary(undefined);
    try {
      const created = await experimentsApi.create(request);
      navigate(`/experiments/${created.id}`);
    } catch (err) {
      if (err instanceof ApiError) {
        const mapped = mapFieldErrors(err.problem.errors, formPaths(form, families));
        setErrors(mapped.byPath);
        setSummary({ title: err.problem.title ?? 'The experiment was rejected', detail: err.problem.detail, unmatched: mapped.unmatched });
        const first = Object.keys(mapped.byPath)[0];
        if (first) setTimeout(() => document.getElementById(fieldId(first))?.focus(), 0);
      } else {
        setSummary({ title: 'The experiment could not be submitted', detail: (err as Error).message, unmatched: [] });
      }
    } finally {
      setSubmitting(false);
    }
  };

  const gridParams = form.kind === 'BENCHMARK' ? BENCHMARK_GRID_PARAMS : TRAINING_GRID_PARAMS;
  return (
    <section aria-labelledby="submit-title">
      <h1 id="submit-title">New experiment</h1>
      <form onSubmit={submit} noValidate aria-describedby={summary && !bannerStale ? 'submit-summary' : undefined}>
        {summary && !bannerStale ? (
          <div id="submit-summary" className="error-banner" role="alert">
            <strong>{summary.title}</strong>
            {summary.detail ? <div>{summary.detail}</div> : null}
            {Object.keys(errors).length > 0 ? <div>See the highlighted fields below.</div> : null}
            {summary.unmatched.length > 0 ? (
              <ul>
                {summary.unmatched.map((u, i) => (
                  <li key={i}>
                    {u.field ? <code>{u.field}</code> : null} {u.message}
                  </li>
                ))}
              </ul>
            ) : null}
          </div>
        ) : null}

        <fieldset>
          <legend>Start from a preset</legend>
          <div className="preset-list">
            {EXPERIMENT_PRESETS.map((p) => (
              <button type="button" key={p.id} className="preset" onClick={() => applyPreset(p.id)} data-preset={p.id}>
                <strong>{p.label}</strong>
                <span>{p.description}</span>
              </button>
            ))}
          </div>
        </fieldset>

        <fieldset>
          <legend>Experiment</legend>
          <div className="param-grid">
            <TextField path="name" label="Name" value={form.name} onChange={(v) => set({ name: v })} errors={shownErrors} wide />
            <div className="field">
              <span id="kind-label">Kind</span>
              <div role="radiogroup" aria-labelledby="kind-label" className="segmented">
                {(['BENCHMARK', 'TRAINING'] as const).map((k) => (
                  <label key={k}>
                    <input type="radio" name="kind" value={k} checked={form.kind === k} onChange={() => set({ kind: k, grid: form.grid.filter((r) => (k === 'BENCHMARK' ? BENCHMARK_GRID_PARAMS : TRAINING_GRID_PARAMS).includes(r.param)) })} />
                    {k === 'BENCHMARK' ? 'Benchmark' : 'Training'}
                  </label>
                ))}
              </div>
              <FieldMessages path="kind" errors={shownErrors} />
            </div>
            <TextField path="priority" label="Priority" value={form.priority} onChange={(v) => set({ priority: v })} errors={shownErrors} inputMode="numeric" placeholder="0" />
            <TextField path="maxAttempts" label="Max attempts" value={form.maxAttempts} onChange={(v) => set({ maxAttempts: v })} errors={shownErrors} inputMode="numeric" placeholder="3" />
          </div>
          <div className={`field${shownErrors.description ? ' field-invalid' : ''}`}>
            <label htmlFor={fieldId('description')}>Description</label>
            <textarea {...inputProps('description', shownErrors)} rows={2} value={form.description} onChange={(e) => set({ description: e.target.value })} />
            <FieldMessages path="description" errors={shownErrors} />
          </div>
        </fieldset>

        <fieldset>
          <legend>Variants</legend>
          <FieldMessages path="variants" errors={shownErrors} />
          {form.variants.length === 0 ? <p className="empty">No variants yet: add one below or start from a preset.</p> : null}
          <div className="variant-list">
            {form.variants.map((v, i) => (
              <VariantEditor
                key={v.uid}
                index={i}
                draft={v}
                families={families}
                errors={shownErrors}
                seqLen={seqLen}
                dtype={form.kind === 'BENCHMARK' ? form.benchmark.dtype : undefined}
                training={form.kind === 'TRAINING'}
                onChange={(d) => set({ variants: form.variants.map((x, j) => (j === i ? d : x)) })}
                onRemove={() => set({ variants: form.variants.filter((_, j) => j !== i) })}
                onCostProblem={(errs, judged) => {
                  setLiveErrors((cur) => (JSON.stringify(cur[v.uid] ?? []) === JSON.stringify(errs) ? cur : { ...cur, [v.uid]: errs }));
                  // Only a variant changed since the last submission has an answer fresher than that submission's.
                  if (submitted.current[v.uid] === judged) return;
                  setErrors((cur) => {
                    const stale = Object.keys(cur).filter((k) => k === `variants[${i}]` || k.startsWith(`variants[${i}].`));
                    return stale.length ? Object.fromEntries(Object.entries(cur).filter(([k]) => !stale.includes(k))) : cur;
                  });
                }}
                onDuplicate={() => set({ variants: [...form.variants.slice(0, i + 1), { ...v, uid: uid('v'), params: { ...v.params } }, ...form.variants.slice(i + 1)] })}
              />
            ))}
          </div>
          <div className="row-actions">
            {families.map((f) => (
              <button type="button" key={f.family} onClick={() => addVariant(f.family)}>
                + {f.family.toUpperCase()}
              </button>
            ))}
            <label htmlFor="variant-preset">Add a catalog preset</label>
            <select id="variant-preset" value={variantPreset} onChange={(e) => addCatalogPreset(e.target.value)}>
              <option value="">choose…</option>
              {families.flatMap((f) =>
                f.presets.map((p) => (
                  <option key={`${f.family}/${p.name}`} value={`${f.family}/${p.name}`}>
                    {p.name}
                    {p.description ? ` — ${p.description}` : ''}
                  </option>
                )),
              )}
            </select>
          </div>
        </fieldset>

        {form.kind === 'BENCHMARK' ? (
          <fieldset>
            <legend>Benchmark</legend>
            <FieldMessages path="benchmark" errors={shownErrors} />
            <div className="param-grid">
              <TextField path="benchmark.batch" label="Batch" value={form.benchmark.batch} onChange={(v) => set({ benchmark: { ...form.benchmark, batch: v } })} errors={shownErrors} inputMode="numeric" />
              <TextField path="benchmark.seqLen" label="Sequence length" value={form.benchmark.seqLen} onChange={(v) => set({ benchmark: { ...form.benchmark, seqLen: v } })} errors={shownErrors} inputMode="numeric" />
              <div className="field">
                <label htmlFor={fieldId('benchmark.dtype')}>dtype</label>
                <select {...inputProps('benchmark.dtype', shownErrors)} value={form.benchmark.dtype} onChange={(e) => set({ benchmark: { ...form.benchmark, dtype: e.target.value } })}>
                  {DTYPES.map((d) => (
                    <option key={d}>{d}</option>
                  ))}
                </select>
                <FieldMessages path="benchmark.dtype" errors={shownErrors} />
              </div>
              <TextField path="benchmark.warmup" label="Warm-up iterations" value={form.benchmark.warmup} onChange={(v) => set({ benchmark: { ...form.benchmark, warmup: v } })} errors={shownErrors} inputMode="numeric" placeholder="3" />
              <TextField path="benchmark.iterations" label="Timed iterations" value={form.benchmark.iterations} onChange={(v) => set({ benchmark: { ...form.benchmark, iterations: v } })} errors={shownErrors} inputMode="numeric" placeholder="10" />
            </div>
            <div className="checks">
              <fieldset>
                <legend>Phases</legend>
                {PHASES.map((p) => (
                  <label key={p}>
                    <input type="checkbox" checked={form.benchmark.phases.includes(p)} onChange={() => set({ benchmark: { ...form.benchmark, phases: toggle(form.benchmark.phases, p) } })} /> {p.toLowerCase()}
                  </label>
                ))}
                <FieldMessages path="benchmark.phases" errors={shownErrors} />
              </fieldset>
              <fieldset>
                <legend>Scopes</legend>
                {SCOPES.map((s) => (
                  <label key={s}>
                    <input type="checkbox" checked={form.benchmark.scopes.includes(s)} onChange={() => set({ benchmark: { ...form.benchmark, scopes: toggle(form.benchmark.scopes, s) } })} /> {s.toLowerCase()}
                  </label>
                ))}
                <FieldMessages path="benchmark.scopes" errors={shownErrors} />
              </fieldset>
              <label>
                <input type="checkbox" checked={form.benchmark.causal} onChange={(e) => set({ benchmark: { ...form.benchmark, causal: e.target.checked } })} /> causal
              </label>
              <DeterministicField base="benchmark" checked={form.deterministic} onChange={(deterministic) => set({ deterministic })} errors={shownErrors} />
            </div>
          </fieldset>
        ) : (
          <fieldset>
            <legend>Training</legend>
            <FieldMessages path="training" errors={shownErrors} />
            <div className="param-grid">
              {TRAINING_FIELDS.map((f) => (
                <TextField
                  key={f}
                  path={`training.${f}`}
                  label={TRAINING_FIELD_INFO[f].label}
                  placeholder={TRAINING_FIELD_INFO[f].placeholder}
                  note={TRAINING_FIELD_INFO[f].note}
                  suggestions={TRAINING_FIELD_INFO[f].suggestions}
                  wide={f === 'dataset'}
                  value={form.training[f]}
                  onChange={(v) => set({ training: { ...form.training, [f]: v } })}
                  errors={shownErrors}
                  inputMode={f === 'dataset' || f === 'tokenizer' ? 'text' : 'decimal'}
                />
              ))}
            </div>
            <DeterministicField base="training" checked={form.deterministic} onChange={(deterministic) => set({ deterministic })} errors={shownErrors} />
          </fieldset>
        )}

        <GridEditor rows={form.grid} params={gridParams} errors={shownErrors} onChange={(grid) => set({ grid })} />

        <div className="submit-bar">
          <p aria-live="polite" className={runs > MAX_RUNS ? 'field-error' : undefined} data-testid="run-count">
            {runs} run{runs === 1 ? '' : 's'} ({form.variants.length} variant{form.variants.length === 1 ? '' : 's'} × grid)
            {runs > MAX_RUNS ? ` — more than the limit of ${MAX_RUNS}` : ''}
          </p>
          <button type="submit" className="primary" disabled={submitting}>
            {submitting ? 'Submitting…' : 'Submit experiment'}
          </button>
        </div>

        <details className="curl">
          <summary>Equivalent curl command</summary>
          {/* Focusable: a long line scrolls, and keyboard users must be able to scroll it (WCAG 2.1.1, axe scrollable-region-focusable). */}
          <pre data-testid="curl" tabIndex={0} aria-label="Equivalent curl command">
            {curlCommand(origin, endpoints.experiments, request)}
          </pre>
          <CopyButton text={curlCommand(origin, endpoints.experiments, request)} label="Copy curl command" />
        </details>
      </form>
    </section>
  );
}
