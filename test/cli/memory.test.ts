// --memory and etl profile through the real CLI, as a child process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));
const etl = (...args: string[]) => spawnSync(process.execPath, ['bin/etl.js', ...args], { cwd: root, encoding: 'utf8' });

test('etl run --memory abc exits 2 with a clear message', () => {
  const result = etl('run', 'examples/quickstart/pipeline.ts', '--memory', 'abc', '--quiet');
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /\[INVALID_OPTION\] Expected `--memory` to be a size such as 256MB, 1GB or 512KB .*; got "abc"/);
});

test('etl run --memory 1KB is refused at start with the minimum', () => {
  const result = etl('run', 'examples/quickstart/pipeline.ts', '--memory', '1KB', '--quiet');
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /\[MEMORY_BUDGET_TOO_SMALL\] A memory budget of 1\.0 KB is too small to run: Sluice needs at least 4\.0 MB/);
});

test('etl profile prints the columns, a zod schema and an estimate; --json for machines', () => {
  const text = etl('profile', 'examples/quickstart/orders.csv', '--memory', '64MB');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /const Row = z\.object\(\{/);
  assert.match(text.stdout, /peak RSS\s+~[\d.]+ MB above the idle process/);
  const json = etl('profile', 'examples/quickstart/orders.csv', '--json', '--batch-rows', '100');
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.estimate.batchRows, 100);
  assert.ok(report.columns.some((column: { name: string }) => column.name === 'quantity'));
  const bad = etl('profile', 'examples/quickstart/orders.csv', '--sample', 'x');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /Expected `--sample` to be a whole number/);
});

test('etl profile reads other CSV dialects: --delimiter (tab), --quote, --encoding latin1', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-profile-'));
  const semicolons = join(dir, 'people.csv');
  await writeFile(semicolons, Buffer.from("id;name;city\n1;'Zoë';'Köln; Mitte'\n2;'Ana';'Lyon'\n3;'Bo';'Köln; Mitte'\n", 'latin1'));
  const result = etl('profile', semicolons, '--delimiter', ';', '--quote', "'", '--encoding', 'latin1', '--json');
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout);
  assert.deepEqual(report.columns.map((column: { name: string }) => column.name), ['id', 'name', 'city']);
  assert.match(report.zod, /city/);
  assert.equal(report.columns.find((column: { name: string }) => column.name === 'city').distinct, 2);

  const tabs = join(dir, 'tabs.tsv');
  await writeFile(tabs, 'id\tscore\n1\t0.5\n2\t1.5\n');
  const tabbed = etl('profile', tabs, '--delimiter', 'tab', '--json');
  assert.equal(tabbed.status, 0, tabbed.stderr);
  assert.deepEqual(JSON.parse(tabbed.stdout).columns.map((column: { name: string; dtype: string }) => `${column.name}:${column.dtype}`), ['id:uint8', 'score:float64']);

  const bad = etl('profile', semicolons, '--encoding', 'utf16');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /Expected `--encoding` to be utf8 or latin1; got "utf16"/);
});
