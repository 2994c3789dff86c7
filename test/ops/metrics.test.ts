/**
 * `etl schedule --metrics`: a real scheduler's Prometheus endpoint, scraped while it runs, gives
 * parseable exposition text whose counters match the run history; and the listen address is checked.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseListenAddress, SchedulerMetrics } from '../../src/ops/metrics.ts';
import { runCli } from '../support/cli.ts';
import { folderHistory, startScheduler, timedPipeline, until } from '../support/scheduler.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Exposition text → samples by their full name with labels; every line must be a comment or a sample. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.trimEnd().split('\n')) {
    const type = /^# TYPE (\w+) (counter|gauge|histogram)$/.exec(line);
    if (type !== null) {
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const sample = /^(\w+)(\{[^}]*\})? (-?[\d.e+]+|\+Inf)$/.exec(line);
    assert.ok(sample !== null, `not a sample line: ${JSON.stringify(line)}`);
    const family = sample[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(sample[1]) || types.get(family) === 'histogram', `${sample[1]} has no # TYPE`);
    samples.set(`${sample[1]}${sample[2] ?? ''}`, Number(sample[3]));
  }
  return samples;
}

test('etl schedule --metrics serves parseable Prometheus text whose counters match the history', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-metrics-'));
  dirs.push(dir);
  const { file } = await timedPipeline(dir, 'ticker', `schedule: '* * * * * *'`, 0);
  const scheduler = startScheduler([file, '--metrics', ':0']);
  try {
    const listening = await until(() => /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.test(scheduler.output()), 20_000);
    assert.ok(listening, scheduler.output());
    const url = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(scheduler.output())![1];
    const succeeded = async () => (await folderHistory(dir)).filter((record) => record.status === 'succeeded').length;
    assert.ok(await until(async () => (await succeeded()) >= 2, 30_000), scheduler.output());
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(await response.text());
    // Read after the scrape: the history has every run the metrics counted (a run records itself before the scheduler counts it).
    const history = await folderHistory(dir);
    const counted = samples.get('sluice_runs_total{pipeline="ticker",status="succeeded"}')!;
    assert.ok(counted >= 1 && counted <= history.filter((record) => record.status === 'succeeded').length, `${counted} counted`);
    const failed = samples.get('sluice_runs_total{pipeline="ticker",status="failed"}')!;
    assert.equal(failed, history.filter((record) => record.status === 'failed').length);
    // Each run reads the pipeline's two rows and writes them.
    assert.equal(samples.get('sluice_rows_total{pipeline="ticker",kind="in"}'), 2 * (counted + failed));
    assert.equal(samples.get('sluice_rows_total{pipeline="ticker",kind="out"}'), 2 * counted);
    assert.equal(samples.get('sluice_run_duration_seconds_count{pipeline="ticker"}'), counted + failed);
    assert.equal(samples.get('sluice_run_duration_seconds_bucket{pipeline="ticker",le="+Inf"}'), counted + failed);
    const started = samples.get('sluice_runs_started_total{pipeline="ticker"}')!;
    assert.ok(started >= counted + failed && started <= counted + failed + 1, 'at most the run going on is started and not ended');
    assert.ok(samples.get('sluice_run_peak_rss_bytes{pipeline="ticker"}')! > 10 * 2 ** 20);
    assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);
  } finally {
    assert.equal(await scheduler.stop(), 0, scheduler.output());
  }
});

test('the histogram counts each run in its bucket and every bucket above; labels are escaped', () => {
  const metrics = new SchedulerMetrics();
  const run = { status: 'succeeded' as const, rowsIn: 1, rowsOut: 1, rowsRejected: 0, bytesRead: 10, peakRss: 1 };
  metrics.started('a"b');
  metrics.ended({ ...run, pipeline: 'a"b', durationMs: 300 });
  metrics.started('a"b');
  metrics.ended({ ...run, pipeline: 'a"b', durationMs: 20_000 });
  const samples = parseExposition(metrics.render());
  assert.equal(samples.get('sluice_run_duration_seconds_bucket{pipeline="a\\"b",le="0.1"}'), 0);
  assert.equal(samples.get('sluice_run_duration_seconds_bucket{pipeline="a\\"b",le="0.5"}'), 1);
  assert.equal(samples.get('sluice_run_duration_seconds_bucket{pipeline="a\\"b",le="15"}'), 1);
  assert.equal(samples.get('sluice_run_duration_seconds_bucket{pipeline="a\\"b",le="60"}'), 2);
  assert.equal(samples.get('sluice_run_duration_seconds_sum{pipeline="a\\"b"}'), 20.3);
  assert.equal(samples.get('sluice_runs_running{pipeline="a\\"b"}'), 0);
});

test('--metrics takes [host]:port, a bare port on localhost only, and refuses anything else', async () => {
  assert.deepEqual(parseListenAddress(':9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListenAddress('9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseListenAddress('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
  assert.deepEqual(parseListenAddress('[::1]:9464'), { host: '::1', port: 9464 });
  assert.throws(() => parseListenAddress('localhost'), /Expected --metrics to be \[host\]:port/);
  assert.throws(() => parseListenAddress(':99999'), /Expected --metrics to be \[host\]:port/);
  const result = await runCli(['schedule', 'pipelines', '--metrics', 'nope']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Expected --metrics to be \[host\]:port/);
});
