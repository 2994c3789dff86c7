/**
 * The run's time series and the HTML reports: the series' maxima are the summary's peaks, it stays
 * bounded however long the run, and `--report run.html` / `etl runs --html` write self-contained pages
 * (no script, nothing fetched) that show the charts, the summary and a failed run's error and place.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { csv, pipeline, run, toCsv } from '../../src/index.ts';
import { runReportHtml } from '../../src/ops/html-report.ts';
import { downsample, MAX_POINTS, type RunSamples } from '../../src/runtime/time-series.ts';
import { runCli } from '../support/cli.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-html-report-'));
  const lines = ['id,amount'];
  for (let i = 1; i <= 200_000; i++) lines.push(`${i},${(i % 1000) / 10}`);
  await writeFile(join(dir, 'orders.csv'), `${lines.join('\n')}\n`);
  await writeFile(join(dir, 'bad.csv'), 'id,amount\n1,2.5\n2,oops\n3,4\n');
  const pipelineFile = (name: string, input: string) =>
    writeFile(
      join(dir, `${name}.ts`),
      `import { z } from 'zod';
import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)} })
  .from(csv(${JSON.stringify(join(dir, input))}, { schema: z.object({ id: z.number().int(), amount: z.number() }) }))
  .filter((row) => row.amount > 10)
  .derive({ double: (row) => row.amount * 2 })
  .to(toCsv(${JSON.stringify(join(dir, `${name}-out.csv`))}));
`,
    );
  await pipelineFile('good', 'orders.csv');
  await pipelineFile('bad', 'bad.csv');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the time series' maxima are the summary's peaks, its counts end at the summary's rows, and each stage has a series", async () => {
  const summary = await run(
    pipeline({ name: 'series' })
      .from(csv(join(dir, 'orders.csv')))
      .filter((row) => (row.amount as number) > 10)
      .to(toCsv(join(dir, 'series-out.csv'))),
    { memory: '32MB' },
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  const samples = summary.samples;
  assert.ok(samples.t.length >= 2, 'a point at the start and one at the end');
  assert.equal(Math.max(...samples.rss), summary.memory.peakRss);
  assert.equal(Math.max(...samples.heapUsed), summary.memory.peakHeapUsed);
  assert.equal(Math.max(...samples.reserved), summary.memory.peakReserved);
  assert.equal(samples.budget, summary.memory.budget);
  assert.equal(samples.source.rows.at(-1), summary.rows.read);
  assert.deepEqual(Object.keys(samples.stages), ['filter', 'sink']);
  assert.equal(samples.stages['filter'].rowsOut.at(-1), summary.stages[0].rowsOut);
  assert.equal(samples.stages['sink'].rowsIn.at(-1), summary.rows.written);
  for (let i = 1; i < samples.t.length; i++) assert.ok(samples.t[i] >= samples.t[i - 1], 'times in order');
});

/** A series as a run of `points` seconds would leave it, merged as the run does when it fills. */
function longSeries(points: number, stages: number): RunSamples {
  const samples: RunSamples = { intervalMs: 1000, t: [], rss: [], heapUsed: [], reserved: [], budget: 128 << 20, pressureEvents: [], source: { rows: [], bytes: [] }, stages: {} };
  for (let s = 0; s < stages; s++) samples.stages[`stage${s}`] = { held: [], rowsIn: [], rowsOut: [], spilledBytes: [] };
  for (let i = 0; i < points; i++) {
    samples.t.push(i * 1000);
    samples.rss.push(100e6 + ((i * 7919) % 1000) * 1e5 + (i === 12345 ? 5e8 : 0));
    samples.heapUsed.push(20e6);
    samples.reserved.push((i * 31) % 128e6);
    samples.pressureEvents.push(0);
    samples.source.rows.push(i * 100_000);
    samples.source.bytes.push(i * 8e6);
    for (const stage of Object.values(samples.stages)) {
      stage.held.push(i % 1e6);
      stage.rowsIn.push(i * 100_000);
      stage.rowsOut.push(i * 90_000);
      stage.spilledBytes.push(0);
    }
    if (samples.t.length >= MAX_POINTS) downsample(samples);
  }
  return samples;
}

test('an eight-hour series stays under MAX_POINTS, keeps its peak and last counts, and its HTML report stays under 1 MB', async () => {
  const hours = 8 * 3600;
  const samples = longSeries(hours, 6);
  assert.ok(samples.t.length <= MAX_POINTS && samples.t.length > MAX_POINTS / 4, `${samples.t.length} points`);
  assert.equal(Math.max(...samples.rss), 100e6 + ((12345 * 7919) % 1000) * 1e5 + 5e8, 'the peak survives merging');
  assert.equal(samples.source.rows.at(-1), (hours - 1) * 100_000, 'cumulative counts keep their last value');
  assert.ok(samples.intervalMs >= 64_000);
  const summary = await run(pipeline({ name: 'small' }).from(csv(join(dir, 'bad.csv'))).to(toCsv(join(dir, 'small-out.csv'))));
  const html = runReportHtml({ ...summary, samples });
  assert.ok(Buffer.byteLength(html) < 1024 * 1024, `${Buffer.byteLength(html)} bytes`);
  assert.ok(JSON.stringify(samples).length < 400 * 1024, 'the series in --report JSON: a few hundred KB at most');
});

test('etl run --report run.html writes one self-contained page: memory and throughput charts, the summary, no script or fetch', async () => {
  const report = join(dir, 'good.html');
  const result = await runCli(['run', join(dir, 'good.ts'), '--report', report, '--memory', '64MB', '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const html = await readFile(report, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /<span class="status succeeded" id="status">succeeded<\/span>/);
  const memory = /<figure id="memory">.*?<\/figure>/s.exec(html)?.[0] ?? '';
  for (const series of ['RSS', 'heap used', 'reserved', 'budget', 'held: filter', 'held: derive', 'held: sink']) assert.match(memory, new RegExp(`data-series="${series}"`));
  assert.match(html, /<figure id="throughput">.*data-series="source".*data-series="filter"/s);
  assert.match(html, /read 200,000, written 179,800, dropped 20,200, rejected 0/);
  assert.doesNotMatch(html, /<script|https?:\/\/|<link|@import|url\(/i, 'nothing to run and nothing fetched');
  assert.doesNotMatch(html, /undefined|NaN/, 'no missing figures');
});

test('a failed run’s page shows the error with its file, line and column name, and where in time it failed', async () => {
  const report = join(dir, 'bad.html');
  const result = await runCli(['run', join(dir, 'bad.ts'), '--report', report, '--quiet']);
  assert.equal(result.code, 1, result.stderr);
  const html = await readFile(report, 'utf8');
  assert.match(html, /<span class="status failed" id="status">failed<\/span>/);
  assert.match(html, /<div class="error" id="error">\[SCHEMA_VIOLATION\][^<]*bad\.csv:3: column &#34;amount&#34;: &#34;oops&#34; is not valid/);
  assert.match(html, /class="mark-label"[^>]*>failed here</);
});

test('etl runs <pipeline> --html writes the history: a chart each of duration, rows and peak RSS, and a row per run', async () => {
  const page = join(dir, 'history', 'good-runs.html');
  const result = await runCli(['runs', join(dir, 'good.ts'), '--html', page]);
  assert.equal(result.code, 0, result.stderr);
  const html = await readFile(page, 'utf8');
  for (const id of ['durations', 'rows', 'peak-rss']) assert.match(html, new RegExp(`<figure id="${id}">`));
  const rows = html.match(/<tr><td>\d{4}-\d\d-\d\dT[^<]*<\/td><td>succeeded<\/td>/g) ?? [];
  assert.equal(rows.length, 1, 'the one run of good.ts');
});

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((name) => spawnSync('which', [name]).status === 0);

test('the run page renders in a real headless Chromium: non-empty screenshot, charts and status in the DOM', { skip: chromium === undefined ? 'Chromium is not installed (Debian: apt install chromium)' : false }, async () => {
  const report = join(dir, 'good.html');
  const screenshot = join(dir, 'good.png');
  const common = ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${join(dir, 'chromium-profile')}`];
  const dom = spawnSync(chromium!, [...common, '--dump-dom', `file://${report}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(dom.status, 0, dom.stderr);
  assert.match(dom.stdout, /<figure id="memory">/);
  assert.match(dom.stdout, /<polyline class="line" data-series="RSS"/);
  const shot = spawnSync(chromium!, [...common, `--screenshot=${screenshot}`, '--window-size=960,1200', `file://${report}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(shot.status, 0, shot.stderr);
  const png = await readFile(screenshot);
  assert.ok(png.length > 20_000, `a screenshot with content (${png.length} bytes)`);
});
