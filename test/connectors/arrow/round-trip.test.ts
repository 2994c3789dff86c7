import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { z } from 'zod';
import { Batch } from '../../../src/batch/batch.ts';
import { columnFromValues } from '../../../src/batch/column.ts';
import { Dictionary } from '../../../src/batch/dictionary.ts';
import { arrow, pipeline, runOrThrow, toArrow } from '../../../src/index.ts';
import { collect, fromBatches, tempDir } from '../../support/fakes.ts';
import { randomBatches } from '../parquet/support.ts';

const dir = await tempDir('sluice-arrow-');
let files = 0;
const nextPath = (extension = 'arrow') => join(dir, `out-${++files}.${extension}`);

function rowsOf(batches: readonly Batch[]): unknown[] {
  return batches.flatMap((batch) => batch.toObjects());
}

async function writeArrow(path: string, batches: readonly Batch[], format: 'file' | 'stream' = 'file') {
  return runOrThrow(pipeline().from(fromBatches(batches)).to(toArrow(path, { format })));
}

async function readBack(path: string, options: Parameters<typeof arrow>[1] = {}, limit?: number) {
  const sink = collect();
  const summary = await runOrThrow(pipeline().from(arrow(path, options)).to(sink), { limit });
  return { sink, summary };
}

describe('arrow round trip', () => {
  for (const format of ['file', 'stream'] as const) {
    test(`random batches of every dtype with nulls come back equal, dtypes kept (${format} format)`, async () => {
      const batches = randomBatches(11, [1, 37, 500, 1203, 0, 64]);
      const path = nextPath(format === 'file' ? 'arrow' : 'arrows');
      const written = await writeArrow(path, batches, format);
      const { sink, summary } = await readBack(path);
      assert.deepEqual(sink.rows, rowsOf(batches));
      assert.equal(summary.rows.read, written.rows.written);
      for (const batch of sink.batches) {
        for (const name of batches[0].names) assert.equal(batch.columns[name].dtype, batches[0].columns[name].dtype, name);
        assert.equal(batch.origin.file, path);
        assert.equal(typeof batch.origin.recordBatch, 'number');
      }
    });
  }

  test('numeric columns read as views on the record batch body, not copies', async () => {
    const batches = randomBatches(4, [2000], 0);
    const path = nextPath();
    await writeArrow(path, batches);
    const { sink } = await readBack(path);
    const batch = sink.batches[0];
    const buffers = new Set(['int8', 'int32', 'uint16', 'float64', 'date', 'bool'].map((name) => (batch.columns[name].data as Uint8Array).buffer));
    // Every one of them a view on one buffer: the message body apache-arrow read from the file.
    assert.equal(buffers.size, 1);
  });

  test('the file is what Arrow itself reads: the documented types, every record batch, the same values', async () => {
    const batches = randomBatches(8, [300, 200]);
    const path = nextPath();
    await writeArrow(path, batches);
    const table = tableFromIPC(await readFile(path));
    assert.equal(table.numRows, 500);
    assert.equal(table.batches.length, 2);
    const types = Object.fromEntries(table.schema.fields.map((field) => [field.name, String(field.type)]));
    assert.equal(types.timestamp, 'Timestamp<MILLISECOND, UTC>');
    assert.equal(types.date, 'Date32<DAY>');
    assert.equal(types.uint32, 'Uint32');
    assert.equal(types.string, 'Utf8');
    assert.equal(types.dictionary, 'Dictionary<Int32, Utf8>');
    const expected = rowsOf(batches) as Record<string, unknown>[];
    const timestamps = table.getChild('timestamp')!;
    const strings = table.getChild('dictionary')!;
    for (let i = 0; i < 500; i++) {
      const at = expected[i].timestamp as Date | null;
      assert.equal(timestamps.get(i) === null ? null : Number(timestamps.get(i)), at === null ? null : at.getTime(), `row ${i}`);
      assert.equal(strings.get(i), expected[i].dictionary, `row ${i}`);
    }
  });

  test('a dictionary that grows across batches is written as delta dictionaries and reads back as one dictionary', async () => {
    const dictionary = new Dictionary(100);
    const batchOf = (values: (string | null)[]) => new Batch({ word: columnFromValues('dictionary', values, dictionary) }, values.length);
    const batches = [batchOf(['a', 'b', null, 'a']), batchOf(['c', 'a']), batchOf([null, 'd', 'e', 'c'])];
    for (const format of ['file', 'stream'] as const) {
      const path = nextPath();
      await writeArrow(path, batches, format);
      const { sink } = await readBack(path);
      assert.deepEqual(sink.rows, rowsOf(batches), format);
      assert.equal(new Set(sink.batches.map((batch) => batch.columns.word.dictionary)).size, 1);
      assert.deepEqual(sink.batches[0].columns.word.dictionary!.values, ['a', 'b', 'c', 'd', 'e']);
    }
  });

  test('columns projects: only those columns, in that order', async () => {
    const batches = randomBatches(9, [100]);
    const path = nextPath();
    await writeArrow(path, batches);
    const { sink } = await readBack(path, { columns: ['string', 'int8'] });
    assert.deepEqual(sink.batches[0].names, ['string', 'int8']);
    assert.deepEqual(sink.rows, rowsOf(batches).map((row: any) => ({ string: row.string, int8: row.int8 })));
  });

  test('a record batch larger than the run batch size is handed on in slices; --limit stops inside one', async () => {
    const batches = randomBatches(10, [20000]);
    const path = nextPath();
    await writeArrow(path, batches);
    const { sink } = await readBack(path);
    assert.ok(sink.batches.length > 1, `expected slices, got ${sink.batches.length} batch`);
    assert.deepEqual(sink.rows, rowsOf(batches));
    const limited = await readBack(path, {}, 1234);
    assert.equal(limited.sink.rows.length, 1234);
    assert.equal(limited.summary.rows.read, 1234);
    for (const batch of limited.sink.batches) for (const name of batch.names) assert.equal(batch.columns[name].length, batch.length, name);
    assert.deepEqual(limited.sink.rows, rowsOf(batches).slice(0, 1234));
  });

  test('with a schema, values are checked and rows that break it rejected with file, record batch and row', async () => {
    const batch = new Batch({ id: columnFromValues('int32', [1, 2, -3, 4]), name: columnFromValues('string', ['a', 'b', 'c', null]) }, 4);
    const path = nextPath();
    await writeArrow(path, [batch]);
    const Row = z.object({ id: z.number().int().min(0), name: z.string().nullable() });
    const sink = collect();
    const rejects = join(dir, 'rejects.ndjson');
    const summary = await runOrThrow(pipeline({ rejects: { path: rejects } }).from(arrow(path, { schema: Row })).to(sink));
    assert.deepEqual(sink.rows, [
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { id: 4, name: null },
    ]);
    assert.equal(summary.rows.read, summary.rows.written + summary.rows.rejected + summary.rows.dropped);
    assert.equal(summary.rows.rejected, 1);
    const first = JSON.parse((await readFile(rejects, 'utf8')).split('\n')[0]);
    assert.equal(first.code, 'SCHEMA_VIOLATION');
    assert.deepEqual([first.file, first.recordBatch, first.row, first.column], [path, 0, 3, 'id']);
  });

  test('an empty input still writes a file with its columns, which reads back as no rows', async () => {
    const batch = new Batch({ id: columnFromValues('int32', []), name: columnFromValues('string', []) }, 0);
    const path = nextPath();
    await writeArrow(path, [batch]);
    const { sink } = await readBack(path);
    assert.equal(sink.rows.length, 0);
    assert.deepEqual(sink.batches[0].names, ['id', 'name']);
    assert.equal(tableFromIPC(await readFile(path)).schema.fields.length, 2);
  });
});
