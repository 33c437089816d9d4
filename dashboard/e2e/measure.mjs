// Times the dashboard's heavy pages in headless Chromium against a running platform holding many runs.
// Usage: BASE_URL=http://localhost:8080 EXPERIMENT=<id of a large experiment> node e2e/measure.mjs
// Prints, per page, the milliseconds from navigation to the page's content being drawn (median of 3).

import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL ?? '').replace(/\/+$/, '');
const EXPERIMENT = process.env.EXPERIMENT ?? '';
if (!BASE_URL || !EXPERIMENT) {
  process.stderr.write('set BASE_URL and EXPERIMENT\n');
  process.exit(2);
}

const PAGES = [
  ['runs, 50 per page', '/runs', 'table.runs-table tbody tr[data-run-id]'],
  ['runs, 200 per page, grouped by family', '/runs?size=200&group=family', 'table.runs-table tbody tr[data-run-id]'],
  ['runs filtered to CANCELLED, sorted by family', '/runs?status=CANCELLED&sort=family,asc', 'table.runs-table tbody tr[data-run-id]'],
  ['experiment page (100 runs of the sweep)', `/experiments/${EXPERIMENT}`, 'table.runs-table tbody tr[data-run-id]'],
  ['queue', '/queue', 'table.data-table, .empty'],
  ['compare the whole sweep (1000 runs, bulk)', `/compare?experiments=${EXPERIMENT}`, '[data-testid="config-diff"] tbody tr'],
];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const total = await (await fetch(`${BASE_URL}/api/runs?size=1`)).json();
process.stdout.write(`${total.totalElements} runs in the platform\n`);
for (const [label, path, ready] of PAGES) {
  const times = [];
  let rows = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    await page.goto(`${BASE_URL}${path}`);
    await page.locator(ready).first().waitFor({ timeout: 60_000 });
    times.push(Date.now() - t0);
    rows = await page.locator('tbody tr').count();
  }
  times.sort((a, b) => a - b);
  process.stdout.write(`${label.padEnd(48)} ${String(times[1]).padStart(6)} ms  (${rows} table rows)\n`);
}
await browser.close();
