/**
 * Wide rows under a small budget: what a run holds per column (the inference sample, the first batch
 * before any is measured, caches per column) must not scale the process past its budget. 2,000 rows of
 * 10,000 columns under `--memory 64MB` peaked at 1.4 GB RSS; here a smaller file of the same width.
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { csv, ndjson, pipeline, run } from '../../../src/index.ts';
import { SAMPLE_CELLS } from '../../../src/schema/infer.ts';
import { PRINT_PEAK_RSS, peakRssOf, runCli } from '../../support/cli.ts';
import { collect, tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-wide-');
const MB = 1024 * 1024;
const COLUMNS = 10_000;
const ROWS = 200;

/** Integers, decimals and repeating words in turn, as a wide export has them. */
function cell(row: number, column: number): string {
  if (column % 3 === 0) return String((row * 31 + column) % 1000);
  if (column % 3 === 1) return (((row + column) % 997) / 7).toFixed(2);
  return `v${(row + column) % 50}`;
}

async function wideCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  out.write(`${Array.from({ length: COLUMNS }, (_, c) => `col_${c}`).join(',')}\n`);
  for (let r = 0; r < rows; r++) {
    if (!out.write(`${Array.from({ length: COLUMNS }, (_, c) => cell(r, c)).join(',')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

const input = join(dir, 'wide.csv');
await wideCsv(input, ROWS);

test('the inference sample of a wide file holds at most SAMPLE_CELLS values, in CSV and NDJSON', async () => {
  const signal = new AbortController().signal;
  const sample = await csv(input).sample!(10_000, { signal });
  assert.equal(sample.names.length, COLUMNS);
  assert.equal(sample.rows.length, SAMPLE_CELLS / COLUMNS);
  const lines = join(dir, 'wide.ndjson');
  const object = Object.fromEntries(Array.from({ length: 1000 }, (_, c) => [`k${c}`, c]));
  await writeFile(lines, `${JSON.stringify(object)}\n`.repeat(1000));
  const objects = await ndjson(lines).sample!(10_000, { signal });
  assert.equal(objects.rows.length, SAMPLE_CELLS / 1000);
});

test('the first batch of a wide file is small; every row is read and written, the same as from a narrow batch size', async () => {
  const sink = collect({ keep: false, onBatch: (batch) => sizes.push([batch.length, batch.names.length]) });
  const sizes: [number, number][] = [];
  const summary = await run(pipeline().from(csv(input)).to(sink), { memory: '64MB' });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.rows.read, ROWS);
  assert.equal(summary.rows.written, ROWS);
  const [firstRows, firstColumns] = sizes[0];
  assert.equal(firstColumns, COLUMNS);
  assert.ok(firstRows * firstColumns <= 64 * 1024, `first batch ${firstRows} rows × ${firstColumns} columns`);
  assert.ok(summary.memory.peakReserved <= summary.memory.budget);
});

test('etl run of 200 rows × 10,000 columns under --memory 64MB: peak RSS near idle + budget, the output as the input', async () => {
  const output = join(dir, 'out.csv');
  const index = new URL('../../../src/index.ts', import.meta.url).pathname;
  const file = join(dir, 'wide.ts');
  await writeFile(
    file,
    `${PRINT_PEAK_RSS}import { csv, pipeline, toCsv } from ${JSON.stringify(index)};
export default pipeline({ name: 'wide' }).from(csv(${JSON.stringify(input)})).to(toCsv(${JSON.stringify(output)}));
`,
  );
  const report = join(dir, 'wide.json');
  const result = await runCli(['run', file, '--memory', '64MB', '--report', report, '--quiet'], { timeoutMs: 300_000 });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const summary = JSON.parse(await readFile(report, 'utf8'));
  const hwm = peakRssOf(result);
  // Before: a sample of 2 million strings, a first batch of all 200 rows and 15 KB of caches per column.
  const bound = summary.memory.baselineRss + 64 * MB + 48 * MB;
  assert.ok(hwm < bound, `peak RSS ${(hwm / MB).toFixed(0)} MB, idle ${(summary.memory.baselineRss / MB).toFixed(0)} MB`);
  const written = (await readFile(output, 'utf8')).split('\n');
  const read = (await readFile(input, 'utf8')).split('\n');
  assert.equal(written.length, read.length);
  assert.equal(written[0], read[0]);
  // Decimals come back as numbers print (1.00 as 1); the rest as it was.
  for (const row of [1, ROWS]) assert.deepEqual(written[row].split(',').map(Number), read[row].split(',').map((text) => (text.startsWith('v') ? Number.NaN : Number(text))));
});
