import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bitmapBytes } from '../../src/batch/bitmap.ts';
import { Column, columnFromValues } from '../../src/batch/column.ts';
import { Dictionary } from '../../src/batch/dictionary.ts';
import { type DType, estimateStringBytes, NUMERIC_ARRAY } from '../../src/batch/dtype.ts';

const MS_PER_DAY = 86_400_000;

const samples: Record<Exclude<DType, 'dictionary'>, unknown[]> = {
  bool: [true, false, true, true, false, false, false, true, true],
  int8: [-128, -1, 0, 1, 127],
  int16: [-32768, 0, 32767],
  int32: [-2147483648, 0, 2147483647],
  uint8: [0, 1, 200, 255],
  uint16: [0, 65535],
  uint32: [0, 4294967295],
  float32: [0, 1.5, -2.25, 1024],
  float64: [0, 0.1, -1e300, Number.MAX_SAFE_INTEGER],
  timestamp: [new Date('2024-01-02T03:04:05.678Z'), new Date(0), new Date('1969-12-31T23:59:59.999Z')],
  date: [new Date('2024-02-29T00:00:00Z'), new Date(0), new Date('1900-01-01T00:00:00Z')],
  string: ['', 'a', 'héllo', 'with,comma', '🙂'],
};

describe('Column', () => {
  for (const [dtype, values] of Object.entries(samples) as [DType, unknown[]][]) {
    test(`${dtype}: columnFromValues then get returns every value`, () => {
      const column = columnFromValues(dtype, values);
      assert.equal(column.dtype, dtype);
      assert.equal(column.length, values.length);
      assert.equal(column.validity, null, 'no bitmap when nothing is null');
      assert.equal(column.nullCount, 0);
      assert.deepEqual(
        values.map((_, i) => column.get(i)),
        values,
      );
    });
  }

  test('dictionary: codes into the shared dictionary; get returns the strings', () => {
    const dictionary = new Dictionary();
    const column = columnFromValues('dictionary', ['b', 'a', 'b', null, 'c'], dictionary);
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => column.get(i)), ['b', 'a', 'b', null, 'c']);
    assert.deepEqual(dictionary.values, ['b', 'a', 'c']);
    assert.equal(column.dictionary, dictionary);
  });

  test('every dtype stores nulls in the validity bitmap, LSB first, and get returns null', () => {
    for (const dtype of Object.keys(samples) as DType[]) {
      const values = samples[dtype as keyof typeof samples];
      const withNulls = [null, ...values, undefined, values[0]];
      const column = columnFromValues(dtype, withNulls);
      assert.ok(column.validity instanceof Uint8Array, dtype);
      assert.equal(column.validity.byteLength, bitmapBytes(withNulls.length), dtype);
      assert.equal(column.validity[0] & 1, 0, `${dtype}: row 0 is null, bit 0 clear`);
      assert.equal(column.nullCount, 2, dtype);
      assert.equal(column.isNull(0), true);
      assert.equal(column.isNull(1), false);
      assert.equal(column.get(0), null);
      assert.equal(column.get(withNulls.length - 2), null);
      assert.deepEqual(column.get(withNulls.length - 1), values[0]);
    }
  });

  test('bool values are bit-packed: 9 values take 2 bytes, LSB first', () => {
    const column = columnFromValues('bool', samples.bool);
    const bits = column.data as Uint8Array;
    assert.equal(bits.byteLength, 2);
    // true,false,true,true,false,false,false,true -> bits 0,2,3,7 -> 0b10001101
    assert.equal(bits[0], 0b1000_1101);
    assert.equal(bits[1], 0b0000_0001);
    assert.deepEqual([0, 1, 2].map((i) => column.raw(i)), [1, 0, 1]);
  });

  test('timestamp stores epoch milliseconds; date stores days since the epoch', () => {
    const timestamps = columnFromValues('timestamp', [new Date('2024-01-02T03:04:05.678Z')]);
    assert.ok(timestamps.data instanceof Float64Array);
    assert.equal(timestamps.raw(0), Date.parse('2024-01-02T03:04:05.678Z'));
    const dates = columnFromValues('date', [new Date('2024-01-02T00:00:00Z')]);
    assert.ok(dates.data instanceof Int32Array);
    assert.equal(dates.raw(0), Date.parse('2024-01-02T00:00:00Z') / MS_PER_DAY);
  });

  test('byteSize of a typed column is exactly its typed array bytes plus its bitmap bytes', () => {
    for (const dtype of Object.keys(NUMERIC_ARRAY) as (keyof typeof NUMERIC_ARRAY)[]) {
      const values = Array.from({ length: 100 }, (_, i) => (dtype === 'timestamp' || dtype === 'date' ? new Date(i * MS_PER_DAY) : i % 100));
      const dense = columnFromValues(dtype, values);
      assert.equal(dense.byteSize, 100 * NUMERIC_ARRAY[dtype].BYTES_PER_ELEMENT, dtype);
      assert.equal(dense.byteSize, (dense.data as ArrayBufferView).byteLength, dtype);
      const sparse = columnFromValues(dtype, [...values.slice(0, 99), null]);
      assert.equal(sparse.byteSize, 100 * NUMERIC_ARRAY[dtype].BYTES_PER_ELEMENT + bitmapBytes(100), dtype);
    }
    const bools = columnFromValues('bool', Array.from({ length: 100 }, (_, i) => i % 3 === 0 || null));
    assert.equal(bools.byteSize, bitmapBytes(100) * 2, 'bool: packed values plus bitmap');
  });

  test('byteSize of a dictionary column counts its codes and bitmap, not the shared dictionary', () => {
    const dictionary = new Dictionary();
    const column = columnFromValues('dictionary', ['a', 'b', null], dictionary);
    assert.equal(column.byteSize, (column.data as Int32Array).byteLength + bitmapBytes(3));
  });

  test('byteSize of a string column is the documented estimate: 24 + length per value, plus the bitmap', () => {
    const values = ['', 'abc', 'a longer string value'];
    const column = columnFromValues('string', values);
    const expected = values.reduce((sum, value) => sum + estimateStringBytes(value), 0);
    assert.equal(expected, 3 * 24 + 0 + 3 + 21);
    assert.equal(column.byteSize, expected);
    const withNull = columnFromValues('string', [...values, null]);
    assert.equal(withNull.byteSize, expected + 8 + bitmapBytes(4), 'a null slot counts as a pointer');
  });

  test('take picks rows in the given order, nulls and bits included, without touching the source', () => {
    for (const dtype of Object.keys(samples) as DType[]) {
      const values = [null, ...samples[dtype as keyof typeof samples]];
      const column = columnFromValues(dtype, values);
      const indices = Uint32Array.from([values.length - 1, 0, 1, 1]);
      const taken = column.take(indices, 3);
      assert.equal(taken.length, 3);
      assert.equal(taken.dtype, dtype);
      assert.deepEqual([0, 1, 2].map((i) => taken.get(i)), [values[values.length - 1], null, values[1]], dtype);
      assert.deepEqual(values.map((_, i) => column.get(i)), values, `${dtype}: source unchanged`);
    }
  });

  test('a column built by hand reports what it was given', () => {
    const column = new Column('uint8', 2, Uint8Array.from([7, 9]), null);
    assert.deepEqual([column.get(0), column.get(1)], [7, 9]);
  });
});
