/**
 * Encoders for PostgreSQL's COPY text format (`COPY t FROM STDIN`, the default format): columns separated
 * by a tab, rows ended by a newline, `\N` for null, and backslash escapes for backslash, tab, newline and
 * carriage return inside values. Each encoder appends to a {@link ByteWriter}, so a batch becomes one
 * chunk of bytes with no string per value for numbers, dates and timestamps.
 *
 * The encoding is UTF-8: the COPY must run with client_encoding UTF8 (pg's default).
 */
import type { Batch } from '../../batch/batch.ts';
import { getBit } from '../../batch/bitmap.ts';
import type { Column } from '../../batch/column.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { civilFromDays } from '../../codec/civil.ts';
import type { ByteWriter } from '../../codec/byte-writer.ts';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const DIGIT_0 = 0x30;
const DASH = 0x2d;
const COLON = 0x3a;
const DOT = 0x2e;
const LETTER_N = 0x4e;
const LETTER_T = 0x54;
const LETTER_Z = 0x5a;
const LOWER_T = 0x74;
const LOWER_F = 0x66;

const MS_PER_DAY = 86_400_000;

/** Between two columns of a row. */
export function writeCopyDelimiter(writer: ByteWriter): void {
  writer.writeByte(TAB);
}

/** After the last column of a row. */
export function writeCopyRowEnd(writer: ByteWriter): void {
  writer.writeByte(NEWLINE);
}

/** A null value: `\N`. (The string "\N" is written as `\\N`, so the two never meet.) */
export function writeCopyNull(writer: ByteWriter): void {
  writer.writeBytePair(BACKSLASH, LETTER_N);
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPES = /[\\\t\n\r]/g;
const ESCAPE_OF: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * A string, UTF-8, with backslash, tab, newline and carriage return escaped. Strings without any of them
 * (nearly all) are written as they are; only the others allocate an escaped copy.
 * NUL characters are passed through and rejected by the server: PostgreSQL text cannot hold them.
 */
export function writeCopyString(writer: ByteWriter, value: string): void {
  writer.writeUtf8(NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, (character) => ESCAPE_OF[character]) : value);
}

/** An integer (any integer dtype), in decimal, without allocating. */
export function writeCopyInteger(writer: ByteWriter, value: number): void {
  writer.writeInteger(value);
}

/**
 * A float32/float64 value: the shortest decimal that reads back as the same double, so float8 round-trips
 * exactly, and float4 too (PostgreSQL rounds the decimal to the nearest real, which is the original).
 * NaN, Infinity and -Infinity are spelled as PostgreSQL reads them; -0 stays -0.
 */
export function writeCopyFloat(writer: ByteWriter, value: number): void {
  writer.writeNumber(value);
}

/** A boolean: `t` or `f`. */
export function writeCopyBool(writer: ByteWriter, value: boolean): void {
  writer.writeByte(value ? LOWER_T : LOWER_F);
}

/**
 * A timestamp given as milliseconds since the Unix epoch (UTC), as ISO 8601 with a `Z`:
 * `2024-03-01T12:30:00.250Z`. Sub-millisecond fractions are dropped (rounded toward the past).
 * Years after 9999 are written with more digits; years before 1 with PostgreSQL's ` BC` suffix;
 * ±Infinity as `infinity` / `-infinity`.
 * @throws RangeError for NaN: a missing timestamp is a null, not a number.
 */
export function writeCopyTimestamp(writer: ByteWriter, milliseconds: number): void {
  if (!Number.isFinite(milliseconds)) {
    writeInfinity(writer, milliseconds, 'timestamp');
    return;
  }
  const whole = Math.floor(milliseconds);
  const days = Math.floor(whole / MS_PER_DAY);
  // Below 86_400_000: int32 arithmetic from here on.
  let rest = whole - days * MS_PER_DAY;
  const bc = writeCivilDate(writer, days);
  const hours = (rest / 3_600_000) | 0;
  rest -= hours * 3_600_000;
  const minutes = (rest / 60_000) | 0;
  rest -= minutes * 60_000;
  const seconds = (rest / 1000) | 0;
  rest -= seconds * 1000;
  const buffer = writer.reserve(16);
  const at = writer.length;
  buffer[at] = LETTER_T;
  buffer[at + 1] = DIGIT_0 + ((hours / 10) | 0);
  buffer[at + 2] = DIGIT_0 + (hours % 10);
  buffer[at + 3] = COLON;
  buffer[at + 4] = DIGIT_0 + ((minutes / 10) | 0);
  buffer[at + 5] = DIGIT_0 + (minutes % 10);
  buffer[at + 6] = COLON;
  buffer[at + 7] = DIGIT_0 + ((seconds / 10) | 0);
  buffer[at + 8] = DIGIT_0 + (seconds % 10);
  buffer[at + 9] = DOT;
  buffer[at + 10] = DIGIT_0 + ((rest / 100) | 0);
  buffer[at + 11] = DIGIT_0 + (((rest / 10) | 0) % 10);
  buffer[at + 12] = DIGIT_0 + (rest % 10);
  buffer[at + 13] = LETTER_Z;
  writer.advance(14);
  if (bc) writer.writeLatin1(' BC');
}

/**
 * A date given as days since 1970-01-01, as `YYYY-MM-DD` (with ` BC` before year 1, `infinity` for ±Infinity).
 * @throws RangeError for NaN or a fractional day.
 */
export function writeCopyDate(writer: ByteWriter, days: number): void {
  if (!Number.isFinite(days)) {
    writeInfinity(writer, days, 'date');
    return;
  }
  if (!Number.isInteger(days)) throw new RangeError(`A date must be a whole number of days since 1970-01-01, got ${days}`);
  if (writeCivilDate(writer, days)) writer.writeLatin1(' BC');
}

function writeInfinity(writer: ByteWriter, value: number, kind: string): void {
  if (Number.isNaN(value)) throw new RangeError(`Cannot write NaN as a ${kind}: write a null instead`);
  writer.writeLatin1(value > 0 ? 'infinity' : '-infinity');
}

// Rows in a batch often share a day (ordered timestamps, a date column): remember the last one.
let cachedDays = Number.NaN;
const cachedDate = new Uint8Array(10);
let cachedBc = false;

/**
 * Writes YYYY-MM-DD of a day count (proleptic Gregorian calendar, as PostgreSQL uses). Returns true
 * when the year is before 1, so the caller appends ` BC` (PostgreSQL has no year 0: year 0 is 1 BC).
 * The conversion is Howard Hinnant's `civil_from_days` (civilFromDays).
 */
function writeCivilDate(writer: ByteWriter, days: number): boolean {
  if (days === cachedDays) {
    writer.writeBytes(cachedDate);
    return cachedBc;
  }
  const date = civilFromDays(days);
  const year = Math.floor(date / 512);
  const rest = date - year * 512;
  const month = rest >> 5;
  const day = rest & 31;

  const bc = year < 1;
  const shownYear = bc ? 1 - year : year;
  if (shownYear > 9999) {
    writer.writeInteger(shownYear);
    writer.writeByte(DASH);
    writer.writePadded(month, 2);
    writer.writeByte(DASH);
    writer.writePadded(day, 2);
    return bc;
  }
  const buffer = writer.reserve(10);
  const at = writer.length;
  buffer[at] = DIGIT_0 + ((shownYear / 1000) | 0);
  buffer[at + 1] = DIGIT_0 + (((shownYear / 100) | 0) % 10);
  buffer[at + 2] = DIGIT_0 + (((shownYear / 10) | 0) % 10);
  buffer[at + 3] = DIGIT_0 + (shownYear % 10);
  buffer[at + 4] = DASH;
  buffer[at + 5] = DIGIT_0 + ((month / 10) | 0);
  buffer[at + 6] = DIGIT_0 + (month % 10);
  buffer[at + 7] = DASH;
  buffer[at + 8] = DIGIT_0 + ((day / 10) | 0);
  buffer[at + 9] = DIGIT_0 + (day % 10);
  for (let i = 0; i < 10; i++) cachedDate[i] = buffer[at + i];
  cachedDays = days;
  cachedBc = bc;
  writer.advance(10);
  return bc;
}

/** Writes row `i` of a column as COPY text; chosen once per column per batch, so the row loop does no dispatch. */
function columnEncoder(column: Column, writer: ByteWriter): (i: number) => void {
  const validity = column.validity;
  const data = column.data;
  let encode: (i: number) => void;
  switch (column.dtype) {
    case 'bool':
      encode = (i) => writeCopyBool(writer, getBit(data as Uint8Array, i));
      break;
    case 'string':
      encode = (i) => writeCopyString(writer, (data as string[])[i]);
      break;
    case 'dictionary': {
      const values = column.dictionary!.values;
      encode = (i) => writeCopyString(writer, values[(data as TypedArray)[i]]);
      break;
    }
    case 'timestamp':
      encode = (i) => writeCopyTimestamp(writer, (data as Float64Array)[i]);
      break;
    case 'date':
      encode = (i) => writeCopyDate(writer, (data as Int32Array)[i]);
      break;
    case 'float32':
    case 'float64':
      encode = (i) => writeCopyFloat(writer, (data as TypedArray)[i]);
      break;
    default:
      encode = (i) => writeCopyInteger(writer, (data as TypedArray)[i]);
  }
  if (validity === null) return encode;
  return (i) => (getBit(validity, i) ? encode(i) : writeCopyNull(writer));
}

/** Appends the rows of `batch` (its `columns`, in order) as COPY text. */
export function encodeTextRows(batch: Batch, columns: readonly string[], writer: ByteWriter): void {
  const encoders = columns.map((name) => columnEncoder(batch.columns[name], writer));
  const count = encoders.length;
  for (let i = 0; i < batch.length; i++) {
    encoders[0](i);
    for (let c = 1; c < count; c++) {
      writeCopyDelimiter(writer);
      encoders[c](i);
    }
    writeCopyRowEnd(writer);
  }
}
