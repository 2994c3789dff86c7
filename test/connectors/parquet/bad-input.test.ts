import assert from 'node:assert/strict';
import { open, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Batch } from '../../../src/batch/batch.ts';
import { columnFromValues } from '../../../src/batch/column.ts';
import { SluiceError } from '../../../src/core/errors.ts';
import type { Source } from '../../../src/contracts/contracts.ts';
import { parquet, pipeline, runOrThrow, toParquet } from '../../../src/index.ts';
import { collect, tempDir } from '../../support/fakes.ts';
import { duckdb, literal, randomBatches, writeParquet } from './support.ts';

const dir = await tempDir('sluice-parquet-bad-');
let files = 0;
const nextPath = () => join(dir, `file-${++files}.parquet`);

async function readFails(path: string, options: Parameters<typeof parquet>[1] = {}): Promise<SluiceError> {
  try {
    await runOrThrow(pipeline().from(parquet(path, options)).to(collect()));
  } catch (error) {
    // The run wraps a source failure; the SluiceError from the source is the cause or the error itself.
    let found: unknown = error;
    while (found !== undefined && !(found instanceof SluiceError && found.code !== 'STAGE_FAILED')) found = (found as { cause?: unknown }).cause;
    assert.ok(found instanceof SluiceError, `expected a SluiceError, got ${error}`);
    return found;
  }
  assert.fail('the read should have failed');
}

describe('parquet bad input', () => {
  test('a file cut short fails with INPUT_READ naming the file', async () => {
    const path = nextPath();
    await writeParquet(path, randomBatches(1, [2000]));
    const { size } = await (await open(path)).stat();
    await truncate(path, Math.floor(size / 2));
    const error = await readFails(path);
    assert.equal(error.code, 'INPUT_READ');
    assert.equal(error.details.file, path);
    assert.match(error.message, /not a readable Parquet file/);
  });

  test('a file whose footer points past its end (cut in the middle, footer kept) names the row group and column', async () => {
    const path = nextPath();
    await writeParquet(path, randomBatches(2, [3000]), { rowGroupRows: 1000 });
    const bytes = await readFile(path);
    const footerLength = bytes.readUInt32LE(bytes.length - 8);
    const footer = bytes.subarray(bytes.length - 8 - footerLength);
    // Drop 40% of the data (the last row groups) but keep the footer, as a partial copy might.
    await writeFile(path, Buffer.concat([bytes.subarray(0, Math.floor((bytes.length - footer.length) * 0.6)), footer]));
    const error = await readFails(path);
    assert.equal(error.code, 'INPUT_READ');
    assert.equal(error.details.file, path);
    assert.equal(typeof error.details.rowGroup, 'number');
    assert.equal(typeof error.details.column, 'string');
  });

  test('a file that is not Parquet fails with INPUT_READ saying so', async () => {
    const path = join(dir, 'orders.parquet');
    await writeFile(path, 'id,amount\n1,2.5\n2,3.5\n');
    const error = await readFails(path);
    assert.equal(error.code, 'INPUT_READ');
    assert.match(error.message, /orders\.parquet is not a readable Parquet file/);
  });

  test('a corrupt page fails naming the file, row group and column', async () => {
    const path = nextPath();
    await writeParquet(path, randomBatches(3, [3000]), { rowGroupRows: 1000, compression: 'zstd' });
    const [chunk] = await duckdb(
      `SELECT data_page_offset AS offset, total_compressed_size AS size FROM parquet_metadata(${literal(path)}) WHERE row_group_id = 1 AND path_in_schema = 'string'`,
    );
    const handle = await open(path, 'r+');
    await handle.write(Buffer.alloc(Number(chunk.size), 0xff), 0, Number(chunk.size), Number(chunk.offset));
    await handle.close();
    const error = await readFails(path);
    assert.equal(error.code, 'INPUT_READ');
    assert.deepEqual([error.details.file, error.details.rowGroup, error.details.column], [path, 1, 'string']);
    assert.match(error.message, /row group 1, column "string"/);
  });

  test('an unsupported codec fails naming the file, row group and column', async () => {
    const path = nextPath();
    await duckdb(`COPY (SELECT range AS n FROM range(1000)) TO ${literal(path)} (FORMAT parquet, COMPRESSION brotli)`);
    const error = await readFails(path);
    assert.equal(error.code, 'INPUT_READ');
    assert.deepEqual([error.details.file, error.details.rowGroup, error.details.column], [path, 0, 'n']);
    assert.match(error.message, /BROTLI/i);
  });

  test('64-bit integers beyond 2^53 are refused naming the column; TIME columns too, unless left out', async () => {
    const path = nextPath();
    await duckdb(`COPY (SELECT (2::BIGINT ** 60)::BIGINT AS huge, TIME '12:34:56' AS clock, 1 AS fine) TO ${literal(path)} (FORMAT parquet)`);
    const huge = await readFails(path, { columns: ['huge'] });
    assert.equal(huge.code, 'SCHEMA_UNSUPPORTED');
    assert.equal(huge.details.column, 'huge');
    const clock = await readFails(path);
    assert.equal(clock.code, 'SCHEMA_UNSUPPORTED');
    assert.equal(clock.details.column, 'clock');
    const sink = collect();
    await runOrThrow(pipeline().from(parquet(path, { columns: ['fine'] })).to(sink));
    assert.deepEqual(sink.rows, [{ fine: 1 }]);
  });

  test('a projected column the file lacks fails with SCHEMA_MISSING_COLUMN listing the columns it has', async () => {
    const path = nextPath();
    await writeParquet(path, randomBatches(4, [10]));
    const error = await readFails(path, { columns: ['int8', 'nope'] });
    assert.equal(error.code, 'SCHEMA_MISSING_COLUMN');
    assert.equal(error.details.column, 'nope');
  });

  test('options are checked at the door, with the nearest name for a misspelled one', () => {
    assert.throws(() => toParquet(nextPath(), { compresion: 'zstd' } as never), (error: SluiceError) => error.code === 'INVALID_OPTION' && /did you mean `compression`/i.test(error.message));
    assert.throws(() => toParquet(nextPath(), { compression: 'lz4' } as never), (error: SluiceError) => error.code === 'INVALID_OPTION' && error.details.option === 'compression');
    assert.throws(() => toParquet(nextPath(), { rowGroupRows: 0 }), (error: SluiceError) => error.details.option === 'rowGroupRows');
    assert.throws(() => toParquet(join(dir, 'x.parquet.gz')), (error: SluiceError) => error.code === 'INVALID_OPTION' && /compressed inside/.test(error.message));
    assert.throws(() => parquet(nextPath(), { column: ['a'] } as never), (error: SluiceError) => /did you mean `columns`/i.test(error.message));
  });
});

describe('parquet sink on failure', () => {
  async function failingRun(path: string, source: Source): Promise<void> {
    await assert.rejects(runOrThrow(pipeline().from(source).to(toParquet(path, { rowGroupRows: 100 }))));
    assert.deepEqual((await readdir(dir)).filter((name) => name.includes(path.split('/').at(-1)!)), [], 'no output and no temporary file left');
  }

  test('a run that fails after some row groups leaves no file (and no temporary file)', async () => {
    const path = nextPath();
    const batches = randomBatches(5, [250, 250]);
    const source: Source = {
      kind: 'failing',
      location: 'failing',
      describe: async () => ({ kind: 'failing', location: 'failing' }),
      async *read() {
        yield* batches;
        throw new Error('the source broke');
      },
    };
    await failingRun(path, source);
  });

  test('a column whose dtype changes to another storage after the first batch fails the write, leaving nothing', async () => {
    const path = nextPath();
    const first = new Batch({ amount: columnFromValues('int16', [1, 2, 3]) }, 3);
    const widened = new Batch({ amount: columnFromValues('float64', [1.5]) }, 1);
    const source: Source = {
      kind: 'widening',
      location: 'widening',
      describe: async () => ({ kind: 'widening', location: 'widening' }),
      async *read() {
        yield first;
        yield widened;
      },
    };
    await failingRun(path, source);
  });

  test('integers widening within INT32 (int8 → int16) are written, annotated with the widest', async () => {
    const path = nextPath();
    const source: Source = {
      kind: 'widening',
      location: 'widening',
      describe: async () => ({ kind: 'widening', location: 'widening' }),
      async *read() {
        yield new Batch({ n: columnFromValues('int8', [1, -2]) }, 2);
        yield new Batch({ n: columnFromValues('int16', [3000]) }, 1);
      },
    };
    await runOrThrow(pipeline().from(source).to(toParquet(path)));
    const sink = collect();
    await runOrThrow(pipeline().from(parquet(path)).to(sink));
    assert.deepEqual(sink.rows, [{ n: 1 }, { n: -2 }, { n: 3000 }]);
    assert.equal(sink.batches[0].columns.n.dtype, 'int16');
  });
});
