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
