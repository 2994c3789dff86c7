/**
 * An outside check of our Arrow IPC: Flechette is an Arrow reader and writer of its own (not
 * apache-arrow, which toArrow() and arrow() are built on), so a layout both of them got wrong the
 * same way cannot pass here. It reads what we write, file and stream formats, with the same values;
 * we read what it writes.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import {
  bool,
  dateDay,
  dictionary,
  float32,
  float64,
  int16,
  int32,
  int64,
  int8,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  timestamp,
  TimeUnit,
  Type,
  uint16,
  uint32,
  uint8,
  utf8,
} from '@uwdata/flechette';
import { Batch } from '../../../src/batch/batch.ts';
import { columnFromValues } from '../../../src/batch/column.ts';
import { Dictionary } from '../../../src/batch/dictionary.ts';
import { arrow, pipeline, runOrThrow, toArrow } from '../../../src/index.ts';
import { collect, fromBatches, tempDir } from '../../support/fakes.ts';
import { ALL_DTYPES, randomBatches } from '../parquet/support.ts';

const dir = await tempDir('sluice-arrow-flechette-');
const DAY = 86_400_000;

/** Our rows as Flechette extracts values by default: dates and timestamps as milliseconds. */
function asFlechette(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

/** Flechette's Arrow type of each of our dtypes, as `toArrow()` writes them. */
const EXPECTED_TYPES: Record<string, { typeId: number; bitWidth?: number; signed?: boolean }> = {
  bool: { typeId: Type.Bool },
  int8: { typeId: Type.Int, bitWidth: 8, signed: true },
  int16: { typeId: Type.Int, bitWidth: 16, signed: true },
  int32: { typeId: Type.Int, bitWidth: 32, signed: true },
  uint8: { typeId: Type.Int, bitWidth: 8, signed: false },
  uint16: { typeId: Type.Int, bitWidth: 16, signed: false },
  uint32: { typeId: Type.Int, bitWidth: 32, signed: false },
  float32: { typeId: Type.Float },
  float64: { typeId: Type.Float },
  timestamp: { typeId: Type.Timestamp },
  date: { typeId: Type.Date },
  string: { typeId: Type.Utf8 },
  dictionary: { typeId: Type.Dictionary },
};

/** Random batches of every dtype with nulls, plus a dictionary column whose values grow batch by batch (delta dictionaries). */
function batchesWithGrowingDictionary(seed: number, sizes: readonly number[]): Batch[] {
  const shared = new Dictionary();
  return randomBatches(seed, sizes).map((batch, b) => {
    const values = Array.from({ length: batch.length }, (_, i) => (i % 9 === 4 ? null : `tag ${i % (5 * (b + 1))}`));
    return new Batch({ ...batch.columns, grows: columnFromValues('dictionary', values, shared) }, batch.length);
  });
}

describe('Arrow IPC checked against Flechette, an independent implementation', () => {
  for (const format of ['file', 'stream'] as const) {
    test(`Flechette reads what toArrow() writes (${format} format): every dtype, nulls, dictionaries growing by deltas, the same values`, async () => {
      const batches = batchesWithGrowingDictionary(51, [700, 1, 1300, 0, 999]);
      const path = join(dir, `ours.${format === 'file' ? 'arrow' : 'arrows'}`);
      await runOrThrow(pipeline().from(fromBatches(batches)).to(toArrow(path, { format })));
      const table = tableFromIPC(await readFile(path));
      const rows = batches.flatMap((batch) => batch.toObjects());
      assert.equal(table.numRows, rows.length);
      for (const dtype of ALL_DTYPES) {
        const type = table.schema.fields.find((field) => field.name === dtype)!.type as { typeId: number; bitWidth?: number; signed?: boolean };
        const expected = EXPECTED_TYPES[dtype];
        assert.deepEqual({ typeId: type.typeId, ...(expected.bitWidth === undefined ? {} : { bitWidth: type.bitWidth, signed: type.signed }) }, expected, dtype);
      }
      for (const name of batches[0].names) {
        const theirs = Array.from(table.getChild(name).toArray() as ArrayLike<unknown>);
        const ours = rows.map((row) => asFlechette((row as Record<string, unknown>)[name]));
        const first = ours.findIndex((value, i) => !isDeepStrictEqual(value, theirs[i]) && !(Number.isNaN(value) && Number.isNaN(theirs[i])));
        assert.equal(first, -1, `${name}: row ${first} is ${String(theirs[first])} in Flechette, ${String(ours[first])} in Sluice`);
        assert.equal(table.getChild(name).nullCount, ours.filter((value) => value === null).length, name);
      }
    });
  }

  for (const format of ['file', 'stream'] as const) {
    test(`arrow() reads what Flechette writes (${format} format): the same values, dtypes and nulls, record batch by record batch`, async () => {
      const rows = 2500;
      const at = (i: number) => (i % 10 === 3 ? null : i);
      const values = (make: (i: number) => unknown) => Array.from({ length: rows }, (_, i) => (at(i) === null ? null : make(i)));
      const columns = {
        bool: values((i) => i % 3 === 0),
        int8: values((i) => (i % 256) - 128),
        int16: values((i) => (i * 37) % 65536 - 32768),
        int32: values((i) => i * 858_993 - 2 ** 30),
        uint8: values((i) => i % 256),
        uint16: values((i) => (i * 31) % 65536),
        uint32: values((i) => (i * 1_717_987) % 4294967296),
        float32: values((i) => Math.fround(i / 7)),
        float64: values((i) => i / 3 - 400),
        // int64 reads as float64 (exact up to 2^53).
        int64: values((i) => (i - 1250) * 2 ** 40),
        string: values((i) => (i % 5 === 0 ? '' : `value ${i} ✓`)),
        dictionary: values((i) => ['paid', 'shipped', 'refunded'][i % 3]),
        timestamp: values((i) => Date.UTC(1969, 11, 31) + i * 3_600_001),
        date: values((i) => (i - 1000) * 17 * DAY),
      };
      const table = tableFromArrays(columns, {
        maxBatchRows: 1000,
        types: {
          bool: bool(),
          int8: int8(),
          int16: int16(),
          int32: int32(),
          uint8: uint8(),
          uint16: uint16(),
          uint32: uint32(),
          float32: float32(),
          float64: float64(),
          int64: int64(),
          string: utf8(),
          dictionary: dictionary(utf8(), int32()),
          timestamp: timestamp(TimeUnit.MILLISECOND, 'UTC'),
          date: dateDay(),
        },
      });
      const path = join(dir, `theirs.${format === 'file' ? 'arrow' : 'arrows'}`);
      await writeFile(path, tableToIPC(table, { format })!);
      const sink = collect();
      const summary = await runOrThrow(pipeline().from(arrow(path)).to(sink));
      assert.equal(summary.rows.read, rows);
      assert.deepEqual(
        [...new Set(sink.batches.map((batch) => batch.origin.recordBatch))],
        [0, 1, 2],
      );
      const dtypes = Object.fromEntries(sink.batches[0].names.map((name) => [name, sink.batches[0].columns[name].dtype]));
      assert.deepEqual(dtypes, { ...Object.fromEntries(Object.keys(columns).map((name) => [name, name])), int64: 'float64' });
      for (const [name, expected] of Object.entries(columns)) {
        const ours = sink.rows.map((row) => asFlechette((row as Record<string, unknown>)[name]));
        const first = expected.findIndex((value, i) => !isDeepStrictEqual(value, ours[i]));
        assert.equal(first, -1, `${name}: row ${first} is ${String(ours[first])} in Sluice, ${String(expected[first])} in Flechette`);
      }
    });
  }
});
