// A stand-in for the platform, for developing the dashboard and its browser tests while the real services
// are not running: it serves dist/ with the single-page fallback and answers the api's paths in the api's
// shapes (api/src/main/java/org/ccalab/api), with runs that progress QUEUED -> RUNNING -> SUCCEEDED on a
// clock. It is NOT what `npm run e2e` is for in CI: that runs against the real platform.
//
// Usage: npm run build && node e2e/fake-platform.mjs [port]   then   BASE_URL=http://localhost:PORT npm run e2e

import { randomUUID } from 'node:crypto';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const PORT = Number(process.argv[2] ?? process.env.PORT ?? 8099);
const QUEUED_MS = 1500;
const RUNNING_MS = 3000;

const experiments = [];
const runs = [];

const now = () => Date.now();
const iso = (t) => (t === undefined ? null : new Date(t).toISOString());

function statusOf(run) {
  if (run.cancelled) return 'CANCELLED';
  const age = now() - run.created;
  if (age < QUEUED_MS) return 'QUEUED';
  if (age < QUEUED_MS + RUNNING_MS) return 'RUNNING';
  return 'SUCCEEDED';
}

function progress(run) {
  return Math.max(0, Math.min(1, (now() - run.created - QUEUED_MS) / RUNNING_MS));
}

function kvElements(v) {
  switch (v.family) {
    case 'mha':
      return 2 * v.dModel;
    case 'gqa':
      return (2 * v.nKvHeads * v.dModel) / v.nHeads;
    case 'mla':
      return v.kvLoraRank + v.qkRopeHeadDim;
    case 'cca':
      return 2 * v.nHeads * v.headDim;
    default:
      return 2 * v.nKvHeads * v.headDim;
  }
}

function validate(req) {
  const errors = [];
  if (!req.name || !String(req.name).trim()) errors.push({ field: 'name', message: 'must not be blank' });
  if (!Array.isArray(req.variants) || req.variants.length === 0) errors.push({ field: 'variants', message: 'at least one variant is required' });
  (req.variants ?? []).forEach((v, i) => {
    const heads = v.family === 'ccgqa' ? v.nQHeads : v.nHeads;
    if (!Number.isInteger(v.dModel) || v.dModel < 1) errors.push({ field: `variants[${i}].dModel`, message: `must be in [1, 16384], got ${v.dModel}` });
    if ((v.family === 'gqa' || v.family === 'ccgqa') && (!Number.isInteger(v.nKvHeads) || heads % v.nKvHeads !== 0))
      errors.push({ field: `variants[${i}].nKvHeads`, message: `nKvHeads (${v.nKvHeads}) must divide ${v.family === 'gqa' ? 'nHeads' : 'nQHeads'} (${heads})` });
  });
  return errors;
}

function expand(req) {
  const axes = Object.entries(req.grid ?? {});
  let points = [{}];
  for (const [k, values] of axes) points = points.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  const out = [];
  for (const variant of req.variants) {
    for (const p of points) {
      const { seed = 1, ...rest } = p;
      const base = req.kind === 'BENCHMARK' ? { ...req.benchmark, ...rest } : { steps: 200, seqLen: 64, ...req.training, ...rest };
      out.push({ variant, seed, spec: { kind: req.kind, variant, seed, benchmark: req.kind === 'BENCHMARK' ? base : null, training: req.kind === 'TRAINING' ? base : null } });
    }
  }
  return out;
}

function runView(r, detail) {
  const status = statusOf(r);
  const view = {
    id: r.id,
    experimentId: r.experimentId,
    experimentName: r.experimentName,
    ordinal: r.ordinal,
    kind: r.spec.kind,
    family: r.variant.family,
    status,
    priority: 0,
    attempt: 1,
    maxAttempts: 3,
    workerId: status === 'QUEUED' ? undefined : 'fake-worker-0',
    seed: r.seed,
    configHash: r.id.replace(/-/g, '').slice(0, 16),
    variant: r.variant,
    spec: r.spec,
    createdAt: iso(r.created),
    startedAt: status === 'QUEUED' ? undefined : iso(r.created + QUEUED_MS),
    finishedAt: status === 'SUCCEEDED' ? iso(r.created + QUEUED_MS + RUNNING_MS) : undefined,
  };
  if (detail) {
    view.environments = status === 'QUEUED' ? [] : [{ attempt: 1, gitCommit: 'fake', gitDirty: false, engineVersion: 'fake', backend: 'cpu', jvm: 'none', host: 'fake-platform' }];
    view.checkpoints = [];
    view.metrics = r.spec.kind === 'TRAINING' ? [{ name: 'train/loss' }, { name: 'val/loss' }] : [];
  }
  return view;
}

function seriesOf(r, name) {
  const steps = r.spec.training?.steps ?? 30;
  const done = Math.floor(progress(r) * steps);
  const kv = kvElements(r.variant);
  const points = [];
  for (let s = 1; s <= done; s++) {
    if (name === 'val/loss' && s % 10 !== 0) continue;
    const value = 1.5 + 4 * Math.exp(-s / 8) + 20 / kv + (name === 'train/loss' ? 0.05 * Math.sin(s * r.seed) : 0.1);
    points.push({ step: s, value, tokens: s * 64, elapsedS: s * 0.1 });
  }
  return points;
}

function cellsOf(r) {
  if (r.spec.kind !== 'BENCHMARK' || statusOf(r) !== 'SUCCEEDED') return [];
  const b = r.spec.benchmark;
  const kv = kvElements(r.variant);
  return (b.phases ?? ['FORWARD', 'BACKWARD', 'DECODE']).flatMap((phase, pi) =>
    (b.scopes ?? ['CORE', 'LAYER']).map((scope, si) => {
      const p50 = (b.seqLen / 32) * (1 + pi) * (1 + si) * (0.3 + kv / 256);
      return { id: pi * 10 + si, attempt: 1, phase, scope, causal: b.causal ?? true, batch: b.batch ?? 1, seqLen: b.seqLen, dtype: b.dtype ?? 'bf16', backend: 'fake', p10Ms: p50 * 0.9, p50Ms: p50, p90Ms: p50 * 1.1, tflops: 0.001 / p50, bytesPerSecond: 1e9, peakMemoryBytes: 1 << 20, kvBytesPerToken: kv * 2, maxAbsError: 1e-7, maxRelError: 1e-6 };
    }),
  );
}

function eventsOf(r) {
  const status = statusOf(r);
  const events = [];
  if (status !== 'QUEUED') events.push({ attempt: 1, seq: 1, type: 'STARTED', time: iso(r.created + QUEUED_MS), payload: { workerId: 'fake-worker-0' } });
  if (status === 'SUCCEEDED') events.push({ attempt: 1, seq: 2, type: 'SUCCEEDED', time: iso(r.created + QUEUED_MS + RUNNING_MS), payload: {} });
  return events;
}

function page(items, url, defaultSize) {
  const p = Number(url.searchParams.get('page') ?? 0);
  const size = Number(url.searchParams.get('size') ?? defaultSize);
  return { items: items.slice(p * size, (p + 1) * size), page: p, size, totalElements: items.length, totalPages: Math.ceil(items.length / size), sort: url.searchParams.get('sort') ?? 'createdAt,desc' };
}

function experimentView(e) {
  const rs = runs.filter((r) => r.experimentId === e.id).map(statusOf);
  const status = rs.every((s) => s === 'SUCCEEDED') ? 'SUCCEEDED' : rs.some((s) => s === 'RUNNING' || s === 'SUCCEEDED') ? 'RUNNING' : 'QUEUED';
  return { id: e.id, name: e.name, description: e.description, kind: e.kind, status, priority: 0, createdAt: iso(e.created), runCount: rs.length, request: e.request };
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function notFound(res, what) {
  json(res, 404, { type: 'about:blank', title: 'Not Found', status: 404, detail: `${what} not found`, errors: [] });
}

function sse(req, res, tick) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  let last = '';
  const send = () => {
    const [name, data] = tick();
    const text = JSON.stringify(data);
    if (text === last) return;
    last = text;
    res.write(`event: ${name}\ndata: ${text}\n\n`);
  };
  send();
  const timer = setInterval(send, 400);
  req.on('close', () => clearInterval(timer));
}

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  const m = (re) => path.match(re);
  let g;
  if (req.method === 'GET' && path === '/api/variants') return json(res, 200, { families: [] });
  if (req.method === 'POST' && path === '/api/variants/cost') {
    const { variant: v, seqLen } = await body(req);
    if (!v?.dModel) return json(res, 400, { title: 'Invalid', status: 400, errors: [{ field: 'variant.dModel', message: 'is required' }] });
    const kv = kvElements(v);
    return json(res, 200, { variant: v, dtype: 'bf16', cost: { family: v.family, seqLen, parameters: 4 * v.dModel * v.dModel, kvCacheBytesPerToken: kv * 2, prefillFlops: 8 * seqLen * v.dModel * v.dModel + 4 * seqLen * seqLen * kv, decodeFlops: 8 * v.dModel * v.dModel } });
  }
  if (req.method === 'POST' && path === '/api/experiments') {
    const r = await body(req);
    const errors = validate(r);
    if (errors.length) return json(res, 400, { type: 'https://cca-lab.dev/problems/invalid-experiment', title: 'Invalid experiment', status: 400, detail: `${errors.length} field(s) are invalid`, errors });
    const e = { id: randomUUID(), name: r.name, description: r.description, kind: r.kind, created: now(), request: r };
    experiments.unshift(e);
    const made = expand(r).map((x, i) => ({ ...x, id: randomUUID(), experimentId: e.id, experimentName: e.name, ordinal: i, created: now() + i * 300 }));
    runs.unshift(...made);
    return json(res, 201, { id: e.id, name: e.name, kind: e.kind, status: 'QUEUED', runCount: made.length, runs: made.map((x) => ({ id: x.id, family: x.variant.family, status: 'QUEUED' })) }, { Location: `/api/experiments/${e.id}` });
  }
  if (req.method === 'GET' && path === '/api/experiments') {
    const q = (url.searchParams.get('q') ?? '').toLowerCase();
    return json(res, 200, page(experiments.filter((e) => e.name.toLowerCase().includes(q)).map(experimentView), url, 20));
  }
  if ((g = m(/^\/api\/experiments\/([^/]+)$/))) {
    const e = experiments.find((x) => x.id === g[1]);
    return e ? json(res, 200, experimentView(e)) : notFound(res, 'experiment');
  }
  if ((g = m(/^\/api\/experiments\/([^/]+)\/(cancel|rerun-failed)$/)) && req.method === 'POST') {
    for (const r of runs) if (r.experimentId === g[1] && g[2] === 'cancel' && statusOf(r) !== 'SUCCEEDED') r.cancelled = true;
    return json(res, 202, { ok: true });
  }
  if (req.method === 'GET' && path === '/api/runs') {
    const exp = url.searchParams.get('experimentId');
    const status = url.searchParams.get('status');
    const family = url.searchParams.get('family');
    let list = runs.filter((r) => (!exp || r.experimentId === exp) && (!family || r.variant.family === family)).map((r) => runView(r, false));
    if (status) list = list.filter((r) => r.status === status);
    if ((url.searchParams.get('sort') ?? '').startsWith('ordinal')) list.sort((a, b) => a.ordinal - b.ordinal);
    return json(res, 200, page(list, url, 50));
  }
  if ((g = m(/^\/api\/runs\/([^/]+)(\/(metrics|cells|events|cancel))?$/))) {
    const r = runs.find((x) => x.id === g[1]);
    if (!r) return notFound(res, 'run');
    if (!g[3]) return json(res, 200, runView(r, true));
    if (g[3] === 'metrics') {
      const names = (url.searchParams.getAll('name').join(',') || 'train/loss,val/loss').split(',').filter(Boolean);
      return json(res, 200, { runId: r.id, maxPoints: 1000, series: names.map((n) => ({ name: n, points: seriesOf(r, n) })) });
    }
    if (g[3] === 'cells') return json(res, 200, { runId: r.id, cells: cellsOf(r) });
    if (g[3] === 'events') return json(res, 200, page(eventsOf(r), url, 100));
    r.cancelled = true;
    return json(res, 202, { status: 'CANCELLED' });
  }
  if (path === '/api/queue') return json(res, 200, queue());
  if (path === '/api/workers') return json(res, 200, { items: [{ id: 'fake-worker-0', backend: 'cpu', device: 'cpu', deviceMemoryBytes: 0, engineVersion: 'fake', host: 'fake-platform', lastSeenAt: iso(now()), alive: true }] });
  if (path === '/api/dead-letters') return json(res, 200, page([], url, 50));
  if (path === '/api/live/queue') return sse(req, res, () => ['queue', queue()]);
  if ((g = m(/^\/api\/live\/runs\/([^/]+)$/))) {
    const r = runs.find((x) => x.id === g[1]);
    if (!r) return notFound(res, 'run');
    return sse(req, res, () => ['status', { runId: r.id, status: statusOf(r), points: seriesOf(r, 'train/loss').length }]);
  }
  if (path.startsWith('/api/')) return notFound(res, path);
  // The dashboard with the single-page fallback, like the api's WebConfig.
  const file = join(DIST, path);
  const target = file.startsWith(DIST) && existsSync(file) && statSync(file).isFile() ? file : join(DIST, 'index.html');
  res.writeHead(200, { 'Content-Type': TYPES[extname(target)] ?? 'application/octet-stream' });
  res.end(readFileSync(target));
}

function queue() {
  const items = runs.filter((r) => ['QUEUED', 'RUNNING'].includes(statusOf(r))).map((r) => ({ runId: r.id, experimentId: r.experimentId, experimentName: r.experimentName, ordinal: r.ordinal, kind: r.spec.kind, family: r.variant.family, status: statusOf(r), priority: 0, attempt: 1, maxAttempts: 3, workerId: statusOf(r) === 'RUNNING' ? 'fake-worker-0' : null, createdAt: iso(r.created), waitSeconds: (now() - r.created) / 1000 }));
  return { queued: items.filter((i) => i.status === 'QUEUED').length, retrying: 0, dispatched: 0, running: items.filter((i) => i.status === 'RUNNING').length, items };
}

createServer((req, res) => handle(req, res).catch((e) => json(res, 500, { title: 'Internal error', status: 500, detail: e.message, errors: [] }))).listen(PORT, () => {
  process.stdout.write(`fake platform on http://localhost:${PORT} serving ${DIST}\n`);
});
