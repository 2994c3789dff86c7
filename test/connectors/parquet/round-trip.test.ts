import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { Batch as BatchClass, type Batch } from '../../../src/batch/batch.ts';
import { columnFromValues } from '../../../src/batch/column.ts';
import { Dictionary } from '../../../src/batch/dictionary.ts';
import { parquet, pipeline, runOrThrow } from '../../../src/index.ts';
import { collect, tempDir } from '../../support/fakes.ts';
import { randomBatches, writeParquet } from './support.ts';

const dir = await tempDir('sluice-parquet-');
let files = 0;
const nextPath = () => join(dir, `out-${++files}.parquet`);

function rowsOf(batches: readonly Batch[]): unknown[] {
  return batches.flatMap((batch) => batch.toObjects());
}

async function readBack(path: string, options: Parameters<typeof parquet>[1] = {}) {
  const sink = collect();
  const summary = await runOrThrow(pipeline().from(parquet(path, options)).to(sink));
  return { sink, summary };
}

describe('parquet round trip', () => {
  for (const compression of ['zstd', 'snappy', 'gzip', 'none'] as const) {
    test(`random batches of every dtype with nulls come back equal, dtypes kept (${compression})`, async () => {
      // Odd sizes and a small row group: pages start off byte boundaries of the validity bitmaps.
      const batches = randomBatches(11, [1, 37, 500, 1203, 0, 64]);
      const path = nextPath();
      await writeParquet(path, batches, { compression, rowGroupRows: 300 });
      const { sink, summary } = await readBack(path);
      assert.deepEqual(sink.rows, rowsOf(batches));
      assert.match(summary.source.engineDetail ?? '', /^100% of \d+ column chunks on the fast path$/);
      for (const batch of sink.batches) {
        for (const name of batches[0].names) assert.equal(batch.columns[name].dtype, batches[0].columns[name].dtype, name);
      }
    });
  }

  test('row groups follow rowGroupRows, and each batch names its file and row group', async () => {
    const batches = randomBatches(3, [1000, 1000, 500]);
    const path = nextPath();
    await writeParquet(path, batches, { rowGroupRows: 700 });
    const { sink } = await readBack(path);
    const groups = sink.batches.map((batch) => batch.origin.rowGroup);
    assert.deepEqual([...new Set(groups)], [0, 1, 2, 3]);
    for (const batch of sink.batches) assert.equal(batch.origin.file, path);
    assert.equal(sink.rows.length, 2500);
  });

  test('rowGroupBytes bounds the row group: more, smaller row groups, same rows', async () => {
    const batches = randomBatches(5, [4000, 4000]);
    const path = nextPath();
    await writeParquet(path, batches, { rowGroupBytes: 64 * 1024 });
    const { sink } = await readBack(path);
    const groups = new Set(sink.batches.map((batch) => batch.origin.rowGroup));
    assert.ok(groups.size >= 4, `expected several row groups, got ${groups.size}`);
    assert.deepEqual(sink.rows, rowsOf(batches));
  });

  test('a column chunk of several pages, each spanning batches, with nulls and a batch of another dictionary, comes back equal', async () => {
    // 600K rows in one row group: pages are cut at 2^18 rows or 1 MB, inside batches and across them.
    const sizes = [1, 99_999, 200_003, 300_000, 3];
    const shared = new Dictionary();
    const other = new Dictionary();
    const batches = sizes.map((length, b) => {
      const offset = sizes.slice(0, b).reduce((sum, size) => sum + size, 0);
      const at = (i: number) => offset + i;
      const codes = Array.from({ length }, (_, i) => (at(i) % 11 === 0 ? null : `tag ${at(i) % 300}`));
      return new BatchClass(
        {
          id: columnFromValues('uint32', Array.from({ length }, (_, i) => at(i))),
          small: columnFromValues('int16', Array.from({ length }, (_, i) => (b === 2 ? null : at(i) % 7 === 0 ? null : (at(i) % 60_000) - 30_000))),
          flag: columnFromValues('bool', Array.from({ length }, (_, i) => (at(i) % 5 === 0 ? null : at(i) % 3 === 0))),
          // The third batch's dictionary is another one: its rows go in as plain strings, in pages of their own.
          tag: columnFromValues('dictionary', codes, b === 2 ? other : shared),
          text: columnFromValues('string', Array.from({ length }, (_, i) => (at(i) % 13 === 0 ? null : `row ${at(i)} é`))),
        },
        length,
      );
    });
    const path = nextPath();
    await writeParquet(path, batches, { rowGroupBytes: '64MB' });
    const { sink } = await readBack(path);
    assert.equal(new Set(sink.batches.map((batch) => batch.origin.rowGroup)).size, 1);
    // Row by row up to the first difference: a failed deepEqual of 600K rows would build a diff of gigabytes.
    const expected = rowsOf(batches);
    assert.equal(sink.rows.length, expected.length);
    const first = expected.findIndex((row, i) => !isDeepStrictEqual(row, sink.rows[i]));
    if (first >= 0) assert.deepEqual({ row: first, ...sink.rows[first] }, { row: first, ...(expected[first] as object) });
  });

  test('dictionary columns read back as dictionary columns sharing one dictionary across batches', async () => {
    const batches = randomBatches(7, [300, 300, 300]);
    const path = nextPath();
    await writeParquet(path, batches, { rowGroupRows: 250 });
    const { sink } = await readBack(path);
    const dictionaries = new Set(sink.batches.map((batch) => batch.columns.dictionary.dictionary));
    assert.equal(sink.batches[0].columns.dictionary.dtype, 'dictionary');
    assert.equal(dictionaries.size, 1);
  });

  test('columns projects: only those columns, in that order', async () => {
    const batches = randomBatches(9, [100]);
    const path = nextPath();
    await writeParquet(path, batches);
    const { sink } = await readBack(path, { columns: ['string', 'int8'] });
    assert.deepEqual(sink.batches[0].names, ['string', 'int8']);
    assert.deepEqual(
      sink.rows,
      rowsOf(batches).map((row: any) => ({ string: row.string, int8: row.int8 })),
    );
  });

  test('a schema checks values: rows that break it are rejected with the file, row group and column', async () => {
    const batches = randomBatches(13, [200], 0);
    const path = nextPath();
    await writeParquet(path, batches);
    const schema = z.object({ uint8: z.int().max(100), date: z.iso.date(), bool: z.boolean() });
    const sink = collect();
    const rejects = join(dir, 'rejects.ndjson');
    const summary = await runOrThrow(pipeline({ rejects: { path: rejects } }).from(parquet(path, { schema })).to(sink));
    const expected = rowsOf(batches)
      .filter((row: any) => row.uint8 <= 100)
      .map((row: any) => ({ uint8: row.uint8, date: row.date, bool: row.bool }));
    assert.ok(expected.length > 0 && expected.length < 200);
    assert.deepEqual(sink.rows, expected);
    assert.equal(summary.rows.rejected, 200 - expected.length);
    const first = JSON.parse((await readFile(rejects, 'utf8')).split('\n')[0]);
    assert.equal(first.code, 'SCHEMA_VIOLATION');
    assert.deepEqual([first.file, first.rowGroup, first.column], [path, 0, 'uint8']);
  });

  test('--limit reads that many rows, stopping inside a row group', async () => {
    const batches = randomBatches(17, [1000]);
    const path = nextPath();
    await writeParquet(path, batches, { rowGroupRows: 400 });
    const sink = collect();
    await runOrThrow(pipeline().from(parquet(path)).to(sink), { limit: 523 });
    assert.deepEqual(sink.rows, rowsOf(batches).slice(0, 523));
    for (const batch of sink.batches) for (const name of batch.names) assert.equal(batch.columns[name].length, batch.length, name);
  });

  test('an empty input writes a file that reads back as no rows with its columns', async () => {
    const path = nextPath();
    await writeParquet(path, randomBatches(1, [0]));
    const { sink } = await readBack(path);
    assert.equal(sink.rows.length, 0);
  });

  test('plain strings read the same whether a page is all ASCII (decoded in one piece) or not, at every length', async () => {
    // Lengths around the 13 characters where V8 stops copying substrings, and past 127 bytes, whose
    // length prefix is not an ASCII byte; a page of ASCII only, then one with a non-ASCII value.
    const ascii = Array.from({ length: 400 }, (_, i) => 'x'.repeat(i % 200) + String(i));
    const mixed = [...ascii.slice(0, 100), 'héllo wörld', ...ascii.slice(100, 200)];
    for (const values of [ascii, mixed]) {
      const batch = new BatchClass({ text: columnFromValues('string', values), nullable: columnFromValues('string', values.map((v, i) => (i % 7 === 0 ? null : v))) }, values.length);
      const path = nextPath();
      await writeParquet(path, [batch], { compression: 'none' });
      const { sink, summary } = await readBack(path);
      assert.deepEqual(sink.rows, batch.toObjects());
      assert.match(summary.source.engineDetail ?? '', /^100% /);
    }
  });
});
