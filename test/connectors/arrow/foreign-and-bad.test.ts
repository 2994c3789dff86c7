import assert from 'node:assert/strict';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  DateMillisecond,
  Dictionary as ArrowDictionary,
  Field,
  Float16,
  Int8,
  Int64,
  LargeUtf8,
  List,
  makeData,
  makeTable,
  tableToIPC,
  TimestampMicrosecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint64,
  Utf8,
  vectorFromArray,
  Table,
  Vector,
} from 'apache-arrow';
import { Batch } from '../../../src/batch/batch.ts';
import { columnFromValues } from '../../../src/batch/column.ts';
import { SluiceError } from '../../../src/core/errors.ts';
import { arrow, pipeline, runOrThrow, toArrow } from '../../../src/index.ts';
import { collect, fromBatches, tempDir } from '../../support/fakes.ts';
import { randomBatches } from '../parquet/support.ts';

const dir = await tempDir('sluice-arrow-bad-');
let files = 0;
const nextPath = () => join(dir, `file-${++files}.arrow`);

async function failure(work: Promise<unknown>): Promise<SluiceError> {
  try {
    await work;
  } catch (error) {
    let found: unknown = error;
    while (found !== undefined && !(found instanceof SluiceError && found.code !== 'STAGE_FAILED')) found = (found as { cause?: unknown }).cause;
    assert.ok(found instanceof SluiceError, `expected a SluiceError, got ${error}`);
    return found;
  }
  assert.fail('it should have failed');
}

const readAll = (path: string, options: Parameters<typeof arrow>[1] = {}) => runOrThrow(pipeline().from(arrow(path, options)).to(collect()));

describe('arrow files written by others', () => {
  const DAY = 86_400_000;
  const ms = [Date.UTC(1969, 11, 31, 23, 59, 59, 999), Date.UTC(2024, 1, 29, 12, 30, 0, 250), null];
  const table = new Table({
    big: vectorFromArray([2 ** 53 - 1, -(2 ** 53 - 1), null].map((v) => (v === null ? null : BigInt(v))), new Int64()),
    unsigned: vectorFromArray([0n, 4294967296n, null], new Uint64()),
    seconds: vectorFromArray(ms.map((v) => (v === null ? null : Math.floor(v / 1000) * 1000)), new TimestampSecond('Europe/Paris')),
    micros: vectorFromArray(ms, new TimestampMicrosecond()),
    // As BigInts: a double of nanoseconds (what Arrow makes of a number here) is not exact past 2^53.
    nanos: new Vector([
      makeData({
        type: new TimestampNanosecond('UTC'),
        length: 3,
        nullCount: 1,
        nullBitmap: Uint8Array.of(0b011),
        data: BigInt64Array.from(ms, (v) => (v === null ? 0n : BigInt(v) * 1_000_000n + 999_999n)),
      }),
    ]),
    day64: vectorFromArray([new Date(-DAY), new Date(19000 * DAY), null], new DateMillisecond()),
    half: vectorFromArray([1.5, -0.25, null], new Float16()),
    large: vectorFromArray(['é', '', null], new LargeUtf8()),
    small: vectorFromArray(['x', 'y', 'x'], new ArrowDictionary(new Utf8(), new Int8())),
  });

  test('int64, every timestamp unit, date64, float16, large utf8 and int8-indexed dictionaries read as documented', async () => {
    const path = nextPath();
    await writeFile(path, tableToIPC(table, 'file'));
    const sink = collect();
    await runOrThrow(pipeline().from(arrow(path)).to(sink));
    const dtypes = Object.fromEntries(sink.batches[0].names.map((name) => [name, sink.batches[0].columns[name].dtype]));
    assert.deepEqual(dtypes, { big: 'float64', unsigned: 'float64', seconds: 'timestamp', micros: 'timestamp', nanos: 'timestamp', day64: 'date', half: 'float32', large: 'string', small: 'dictionary' });
    const at = (v: number | null) => (v === null ? null : new Date(v));
    assert.deepEqual(sink.rows, [
      { big: 2 ** 53 - 1, unsigned: 0, seconds: at(Math.floor(ms[0]! / 1000) * 1000), micros: at(ms[0]), nanos: at(ms[0]), day64: new Date(-DAY), half: 1.5, large: 'é', small: 'x' },
      { big: -(2 ** 53 - 1), unsigned: 4294967296, seconds: at(Math.floor(ms[1]! / 1000) * 1000), micros: at(ms[1]), nanos: at(ms[1]), day64: new Date(19000 * DAY), half: -0.25, large: '', small: 'y' },
      { big: null, unsigned: null, seconds: null, micros: null, nanos: null, day64: null, half: null, large: null, small: 'x' },
    ]);
  });

  test('the stream format written by Arrow reads the same as its file format', async () => {
    const path = nextPath();
    await writeFile(path, tableToIPC(table, 'stream'));
    const fromFile = nextPath();
    await writeFile(fromFile, tableToIPC(table, 'file'));
    const [stream, file] = [collect(), collect()];
    await runOrThrow(pipeline().from(arrow(path)).to(stream));
    await runOrThrow(pipeline().from(arrow(fromFile)).to(file));
    assert.deepEqual(stream.rows, file.rows);
  });

  test('a type Sluice does not read is refused naming the column; `columns` leaves it out', async () => {
    const path = nextPath();
    const lists = makeTable({ id: new Int8Array([1, 2]) }).assign(new Table({ tags: vectorFromArray([[1], [2, 3]], new List(new Field('item', new Int8()))) }));
    await writeFile(path, tableToIPC(lists, 'file'));
    const error = await failure(readAll(path));
    assert.equal(error.code, 'SCHEMA_UNSUPPORTED');
    assert.deepEqual([error.details.file, error.details.column], [path, 'tags']);
    const sink = collect();
    await runOrThrow(pipeline().from(arrow(path, { columns: ['id'] })).to(sink));
    assert.deepEqual(sink.rows, [{ id: 1 }, { id: 2 }]);
  });

  test('a 64-bit integer beyond 2^53 is refused naming the file, record batch and column', async () => {
    const path = nextPath();
    await writeFile(path, tableToIPC(new Table({ id: vectorFromArray([1n, 2n ** 60n], new Int64()) }), 'file'));
    const error = await failure(readAll(path));
    assert.equal(error.code, 'SCHEMA_UNSUPPORTED');
    assert.deepEqual([error.details.file, error.details.recordBatch, error.details.column], [path, 0, 'id']);
  });
});

describe('arrow bad input and failed writes', () => {
  test('a file that is not Arrow fails with INPUT_READ naming the file', async () => {
    const path = nextPath();
    await writeFile(path, 'id,amount\n1,2.5\n');
    const error = await failure(readAll(path));
    assert.equal(error.code, 'INPUT_READ');
    assert.equal(error.details.file, path);
    assert.match(error.message, /not a readable Arrow IPC file or stream/);
  });

  test('a stream cut short fails with INPUT_READ naming the file and the record batch', async () => {
    const path = nextPath();
    await runOrThrow(pipeline().from(fromBatches(randomBatches(3, [500, 500, 500]))).to(toArrow(path, { format: 'stream' })));
    const size = (await readFile(path)).length;
    await truncate(path, Math.floor(size * 0.7));
    const error = await failure(readAll(path));
    assert.equal(error.code, 'INPUT_READ');
    assert.equal(error.details.file, path);
    assert.equal(typeof error.details.recordBatch, 'number');
  });

  test('a file cut short (no footer) fails with INPUT_READ naming the file', async () => {
    const path = nextPath();
    await runOrThrow(pipeline().from(fromBatches(randomBatches(3, [500, 500]))).to(toArrow(path)));
    const size = (await readFile(path)).length;
    await truncate(path, Math.floor(size / 2));
    const error = await failure(readAll(path));
    assert.equal(error.code, 'INPUT_READ');
    assert.equal(error.details.file, path);
  });

  test('a batch whose column changes type fails the write naming the file, record batch and column, and leaves no output', async () => {
    const path = join(dir, 'changing', 'out.arrow');
    const batches = [new Batch({ id: columnFromValues('int8', [1, 2]) }, 2), new Batch({ id: columnFromValues('float64', [1.5]) }, 1)];
    const error = await failure(runOrThrow(pipeline().from(fromBatches(batches)).to(toArrow(path))));
    assert.equal(error.code, 'OUTPUT_WRITE');
    assert.deepEqual([error.details.file, error.details.recordBatch, error.details.column], [path, 1, 'id']);
    assert.deepEqual(await readdir(join(dir, 'changing')), []);
  });

  test('a misspelled option names the valid one', () => {
    assert.throws(() => toArrow(nextPath(), { fromat: 'stream' } as never), /unknown option `fromat`. Did you mean `format`\?/);
    assert.throws(() => toArrow(nextPath(), { format: 'feather' as never }), /'file' or 'stream'/);
    assert.throws(() => arrow(nextPath(), { column: ['a'] } as never), /Did you mean `columns`\?/);
  });
});
