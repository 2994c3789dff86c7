import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';

let outDir: string;
before(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'sluice-pipelines-'));
});
after(async () => {
  await rm(outDir, { recursive: true, force: true });
});

test('pipelines/orders-export.ts runs on the sample orders and accounts for every row', async () => {
  const report = join(outDir, 'report.json');
  const result = await runCli(['run', 'pipelines/orders-export.ts', '--report', report, '--quiet'], { env: { OUT_DIR: outDir } });
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(await readFile(report, 'utf8'));
  assert.equal(summary.rows.read, 500);
  assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected);
  const lines = (await readFile(join(outDir, 'orders-export.ndjson'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, summary.rows.written);
  for (const line of lines) {
    assert.ok(line.status === 'paid' || line.status === 'shipped');
    assert.ok(Number.isInteger(line.gross_cents) && Number.isInteger(line.net_cents));
    assert.ok(line.net_cents <= line.gross_cents);
    assert.equal(line.note, undefined, 'projection dropped the note column');
  }
});
