import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daysFromCivil } from '../../../src/codec/civil.ts';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { ByteWriter } from '../../../src/codec/byte-writer.ts';
import {
  writeCopyBool,
  writeCopyDate,
  writeCopyDelimiter,
  writeCopyFloat,
  writeCopyInteger,
  writeCopyNull,
  writeCopyRowEnd,
  writeCopyString,
  writeCopyTimestamp,
} from '../../../src/connectors/postgres/copy-text.ts';
import { sqlTypeForDType } from '../../../src/connectors/postgres/types.ts';
import { quoteIdent } from '../../../src/connectors/postgres/identifiers.ts';
import { INTEGER_RANGE, type DType } from '../../../src/batch/dtype.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('copy_text');

const scratch = new ByteWriter();
const decoder = new TextDecoder();
function encode(write: (writer: ByteWriter) => void): string {
  scratch.reset();
  write(scratch);
  return decoder.decode(scratch.view());
}

const DAY = 86_400_000;
const daysOf = (iso: string): number => Date.parse(`${iso}T00:00:00Z`) / DAY;

test('strings escape backslash, tab, newline and carriage return; a literal \\N is not null', () => {
  assert.equal(encode((w) => writeCopyString(w, 'a\\b\tc\nd\re')), 'a\\\\b\\tc\\nd\\re');
  assert.equal(encode((w) => writeCopyString(w, '\\N')), '\\\\N');
  assert.equal(encode((w) => writeCopyNull(w)), '\\N');
  assert.equal(encode((w) => writeCopyString(w, 'plain é 😀')), 'plain é 😀');
});

test('booleans, numbers, dates and timestamps use the spellings PostgreSQL reads', () => {
  assert.equal(encode((w) => (writeCopyBool(w, true), writeCopyDelimiter(w), writeCopyBool(w, false), writeCopyRowEnd(w))), 't\tf\n');
  assert.equal(encode((w) => writeCopyInteger(w, -2147483648)), '-2147483648');
  assert.equal(encode((w) => writeCopyFloat(w, -0)), '-0');
  assert.equal(encode((w) => writeCopyFloat(w, NaN)), 'NaN');
  assert.equal(encode((w) => writeCopyFloat(w, -Infinity)), '-Infinity');
  assert.equal(encode((w) => writeCopyTimestamp(w, 0)), '1970-01-01T00:00:00.000Z');
  assert.equal(encode((w) => writeCopyTimestamp(w, -1)), '1969-12-31T23:59:59.999Z');
  assert.equal(encode((w) => writeCopyTimestamp(w, 1.9)), '1970-01-01T00:00:00.001Z');
  assert.equal(encode((w) => writeCopyTimestamp(w, Date.UTC(2024, 1, 29, 13, 5, 9, 42))), '2024-02-29T13:05:09.042Z');
  assert.equal(encode((w) => writeCopyTimestamp(w, Infinity)), 'infinity');
  assert.equal(encode((w) => writeCopyDate(w, 0)), '1970-01-01');
  assert.equal(encode((w) => writeCopyDate(w, daysOf('2000-02-29'))), '2000-02-29');
  assert.equal(encode((w) => writeCopyDate(w, daysOf('0001-01-01') - 1)), '0001-12-31 BC');
  // PostgreSQL's last date, far past int32 once packed as year * 512 + month * 32 + day.
  assert.equal(encode((w) => writeCopyDate(w, daysFromCivil(5874897, 12, 31))), '5874897-12-31');
  assert.equal(encode((w) => writeCopyDate(w, -Infinity)), '-infinity');
  assert.throws(() => encode((w) => writeCopyTimestamp(w, NaN)), RangeError);
  assert.throws(() => encode((w) => writeCopyDate(w, 1.5)), RangeError);
});

test('dates and timestamps agree with Date#toISOString over four centuries of days', () => {
  for (let days = daysOf('1800-01-01'); days <= daysOf('2200-12-31'); days += 1) {
    const ms = days * DAY + ((days * 7919) % DAY);
    assert.equal(encode((w) => writeCopyTimestamp(w, ms)), new Date(ms).toISOString());
    assert.equal(encode((w) => writeCopyDate(w, days)), new Date(days * DAY).toISOString().slice(0, 10));
  }
});

interface ColumnCase {
  dtype: DType;
  values: (number | boolean | string | null)[];
  write: (writer: ByteWriter, value: never) => void;
  /** SQL expression reading the column back as something comparable. */
  read?: (column: string) => string;
  same?: (actual: unknown, expected: unknown) => boolean;
}

const integers = (dtype: keyof typeof INTEGER_RANGE): (number | null)[] => {
  const [min, max] = INTEGER_RANGE[dtype];
  return [min, max, 0, 1, -1 >= min ? -1 : 2, null];
};

const STRINGS = ['', 'plain', 'tab\there', 'line\nbreak', 'cr\rlf\r\n', 'back\\slash', '\\N', '\\', 'null', 'NULL', 'é日本😀', 'x'.repeat(5000), ' leading and trailing ', null];

const CASES: ColumnCase[] = [
  { dtype: 'bool', values: [true, false, null], write: writeCopyBool },
  ...(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32'] as const).map(
    (dtype): ColumnCase => ({ dtype, values: integers(dtype), write: writeCopyInteger, read: (c) => `${c}::float8` }),
  ),
  {
    dtype: 'float32',
    values: [Math.fround(0.1), Math.fround(-3.4e38), Math.fround(1e-40), 0, -0, NaN, Infinity, -Infinity, null],
    write: writeCopyFloat,
    // float4 text output is the shortest decimal of the float, which Math.fround maps back to it.
    same: (actual, expected) => Object.is(actual === null ? null : Math.fround(actual as number), expected),
  },
  {
    dtype: 'float64',
    values: [0.1 + 0.2, 5e-324, Number.MAX_VALUE, -1.5e-300, 2 ** 53 + 2, -0, NaN, Infinity, -Infinity, 123, null],
    write: writeCopyFloat,
  },
  {
    dtype: 'timestamp',
    values: [0, -1, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -62135596800000 - 1, -62198755200000, null],
    write: writeCopyTimestamp,
    read: (c) => `(extract(epoch from ${c}) * 1000)::float8`,
  },
  {
    dtype: 'date',
    values: [0, -1, daysOf('2000-02-29'), daysOf('9999-12-31'), daysOf('0001-01-01'), daysOf('0001-01-01') - 1, daysOf('0001-01-01') - 366 * 44, 3_000_000, null],
    write: writeCopyDate,
    read: (c) => `(${c} - date '1970-01-01')`,
  },
  { dtype: 'string', values: STRINGS, write: writeCopyString },
  { dtype: 'dictionary', values: ['a', 'a\tb', null, 'a'], write: writeCopyString },
];

test('every dtype round-trips through COPY FROM STDIN and SELECT, nulls included', async () => {
  const rowCount = Math.max(...CASES.map((c) => c.values.length));
  const columns = CASES.map((c) => `c_${c.dtype}`);
  await db.query(`create table round_trip (row_number int, ${CASES.map((c, i) => `${quoteIdent(columns[i])} ${sqlTypeForDType(c.dtype)}`).join(', ')})`);

  const writer = new ByteWriter(64);
  for (let row = 0; row < rowCount; row++) {
    writeCopyInteger(writer, row);
    CASES.forEach((c) => {
      writeCopyDelimiter(writer);
      const value = c.values[row % c.values.length];
      if (value === null) writeCopyNull(writer);
      else c.write(writer, value as never);
    });
    writeCopyRowEnd(writer);
  }
  const client = await db.pool.connect();
  try {
    // Two chunks split mid-row: COPY data is a byte stream, rows need not align with chunks.
    const bytes = writer.flush();
    const middle = Math.floor(bytes.length / 2);
    await pipeline(Readable.from([bytes.subarray(0, middle), bytes.subarray(middle)]), client.query(copyFrom('copy round_trip from stdin')));
  } finally {
    client.release();
  }

  const select = CASES.map((c, i) => `${c.read ? c.read(quoteIdent(columns[i])) : quoteIdent(columns[i])} as ${quoteIdent(columns[i])}`);
  const result = await db.query(`select ${select.join(', ')} from round_trip order by row_number`);
  assert.equal(result.rows.length, rowCount);
  result.rows.forEach((row, index) => {
    CASES.forEach((c, i) => {
      const expected = c.values[index % c.values.length];
      const actual = row[columns[i]];
      const same = c.same ?? ((a: unknown, e: unknown) => Object.is(a, e));
      assert.ok(same(actual, expected), `${c.dtype} row ${index}: expected ${String(expected)}, got ${String(actual)}`);
    });
  });
});
