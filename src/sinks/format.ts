/**
 * Text output of batches (CSV, NDJSON), column by column: each column is formatted in its own loop,
 * one per dtype, into a reused byte buffer (the cell ends in an Int32Array); then the rows are
 * assembled from those bytes into one buffer per batch. The loops stay monomorphic and make no string
 * for numbers, timestamps, dates, booleans, dictionary values or plain-ASCII strings.
 */
import type { Batch } from '../batch/batch.ts';
import type { Column } from '../batch/column.ts';
import type { Dictionary } from '../batch/dictionary.ts';
import type { TypedArray } from '../batch/dtype.ts';
import { formatDate, formatTimestamp } from '../schema/text.ts';

/** How values become text: CSV fields or JSON values. */
export interface TextStyle {
  json: boolean;
  /** CSV: the delimiter byte (a string containing it is quoted). */
  delimiter: number;
  /** CSV: the sink's quoting of a string that may need it (the slow path, and the rule). */
  quote: (text: string) => string;
}

const MS_PER_DAY = 86_400_000;
const DIGIT_0 = 0x30;
const MINUS = 0x2d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Longest `String(number)`: `-2.2250738585072014e-308`. */
const NUMBER_BYTES = 24;
/** Longest timestamp text, quoted: `"+275760-09-13T00:00:00.000Z"`. */
const TIMESTAMP_BYTES = 30;

const utf8Write = (Buffer.prototype as unknown as { utf8Write: (this: Buffer, text: string, offset: number, length: number) => number }).utf8Write;

/** The formatted cells of one column of a batch: cell i is `bytes[ends[i - 1], ends[i])` (from 0 for i = 0). */
class ColumnText {
  bytes: Buffer = Buffer.allocUnsafeSlow(4096);
  ends = new Int32Array(1024);
  /** Bytes used. */
  size = 0;

  /** Room for `rows` cells and `bytes` bytes; returns the byte buffer. */
  prepare(rows: number, bytes: number): Buffer {
    if (this.ends.length < rows) this.ends = new Int32Array(rows);
    if (this.bytes.length < bytes) this.bytes = Buffer.allocUnsafeSlow(bytes);
    return this.bytes;
  }

  /** Grows the byte buffer to hold `needed` bytes, keeping the first `used`. */
  grow(used: number, needed: number): Buffer {
    const next = Buffer.allocUnsafeSlow(Math.max(needed, this.bytes.length * 2));
    this.bytes.copy(next, 0, 0, used);
    this.bytes = next;
    return next;
  }
}

/**
 * Encodes batches as rows of text: per row, for each column its prefix (CSV: the delimiter before every
 * column but the first; NDJSON: `{"name":` / `,"name":`) and its cell, then the row suffix.
 */
export class RowTextEncoder {
  private texts: ColumnText[] = [];
  /** Per row: its length, then where its next byte goes in the batch's buffer. */
  private cursor = new Int32Array(1024);
  /** Encoded dictionary values (quoted or JSON), per dictionary: they repeat in every batch. */
  private readonly dictionaries = new Map<Dictionary, (Uint8Array | undefined)[]>();
  /**
   * Output buffers given back by {@link release} once written, reused by the next batches. A fresh
   * megabyte-sized buffer per batch churns malloc over a long run (glibc raises its mmap threshold to
   * the size of the buffers freed, so later ones come from a heap that can fragment and keep pages).
   */
  private readonly spare: ArrayBuffer[] = [];

  constructor(private readonly style: TextStyle) {}

  /** One buffer holding every row of `batch`, handed over to the caller. */
  encode(batch: Batch<unknown>, prefixes: readonly Uint8Array[], suffix: Uint8Array): Uint8Array {
    const names = batch.names;
    const columns = names.length;
    const length = batch.length;
    while (this.texts.length < columns) this.texts.push(new ColumnText());
    if (this.cursor.length < length) this.cursor = new Int32Array(length);
    // Row lengths, then (prefix sums) where each row starts; then each column is copied into its rows
    // in its own pass. Column passes keep one cell buffer and one `ends` array in registers, which a
    // row-by-row loop over all columns cannot.
    const cursor = this.cursor;
    let fixed = suffix.length;
    for (let c = 0; c < columns; c++) fixed += prefixes[c].length;
    cursor.fill(fixed, 0, length);
    for (let c = 0; c < columns; c++) {
      const text = this.texts[c];
      this.format(batch.columns[names[c]], text, length);
      addCellLengths(cursor, text.ends, length);
    }
    let total = 0;
    for (let i = 0; i < length; i++) {
      const rowLength = cursor[i];
      cursor[i] = total;
      total += rowLength;
    }
    const out = this.outputBuffer(total);
    for (let c = 0; c < columns; c++) copyCells(out, cursor, prefixes[c], this.texts[c].bytes, this.texts[c].ends, length);
    copyCells(out, cursor, suffix, EMPTY, ZEROS, length);
    return out;
  }

  /**
   * Gives back bytes `encode` returned, once the caller is done with them (written to the file): their
   * memory is reused for a later batch. Optional: bytes never given back are simply collected.
   */
  release(bytes: Uint8Array): void {
    const buffer = bytes.buffer;
    if (!(buffer instanceof ArrayBuffer) || bytes.byteOffset !== 0 || this.spare.includes(buffer)) return;
    if (this.spare.length < SPARE_BUFFERS) this.spare.push(buffer);
  }

  /** A buffer of `total` bytes: a spare one when one is large enough, else a new one with some room to grow. */
  private outputBuffer(total: number): Buffer {
    for (let k = 0; k < this.spare.length; k++) {
      const buffer = this.spare[k];
      if (buffer.byteLength >= total) {
        this.spare.splice(k, 1);
        return Buffer.from(buffer, 0, total);
      }
    }
    // allocUnsafeSlow: never a slice of Node's shared pool, so the buffer is ours alone to reuse.
    return Buffer.from(Buffer.allocUnsafeSlow(total + (total >>> 3)).buffer, 0, total);
  }

  private format(column: Column, text: ColumnText, length: number): void {
    const validity = column.validity;
    const json = this.style.json;
    switch (column.dtype) {
      case 'bool':
        formatBooleans(text, column.data as Uint8Array, validity, length, json);
        break;
      case 'string':
        formatStrings(text, column.data as string[], validity, length, this.style);
        break;
      case 'dictionary':
        formatDictionary(text, column.data as TypedArray, validity, length, this.encodedValues(column.dictionary!), json);
        break;
      case 'timestamp':
        formatTimestamps(text, column.data as Float64Array, validity, length, json);
        break;
      case 'date':
        formatDates(text, column.data as Int32Array, validity, length, json);
        break;
      default:
        formatNumbers(text, column.data as TypedArray, validity, length, json);
    }
  }

  private encodedValues(dictionary: Dictionary): (Uint8Array | undefined)[] {
    let encoded = this.dictionaries.get(dictionary);
    if (encoded === undefined) {
      encoded = [];
      this.dictionaries.set(dictionary, encoded);
    }
    const values = dictionary.values;
    for (let code = encoded.length; code < values.length; code++) {
      encoded.push(Buffer.from(this.style.json ? JSON.stringify(values[code]) : this.style.quote(values[code]), 'utf8'));
    }
    return encoded;
  }
}

/** Output buffers kept for reuse: the batches a file sink has in its write queue at once, and one more. */
const SPARE_BUFFERS = 3;
const EMPTY = Buffer.alloc(0);
const ZEROS = new Int32Array(0);

function addCellLengths(rowLengths: Int32Array, ends: Int32Array, length: number): void {
  let previous = 0;
  for (let i = 0; i < length; i++) {
    const end = ends[i];
    rowLengths[i] += end - previous;
    previous = end;
  }
}

/** Writes `prefix` and then cell i of a column at `cursor[i]`, for each row; moves the cursors past them. */
function copyCells(out: Buffer, cursor: Int32Array, prefix: Uint8Array, bytes: Buffer, ends: Int32Array, length: number): void {
  const prefixLength = prefix.length;
  const cellsOf = ends.length > 0;
  let start = 0;
  for (let i = 0; i < length; i++) {
    let at = cursor[i];
    for (let k = 0; k < prefixLength; k++) out[at++] = prefix[k];
    if (cellsOf) {
      const end = ends[i];
      if (end - start > 32) {
        bytes.copy(out, at, start, end);
        at += end - start;
        start = end;
      } else {
        while (start < end) out[at++] = bytes[start++];
      }
    }
    cursor[i] = at;
  }
}

function isNull(validity: Uint8Array | null, i: number): boolean {
  return validity !== null && (validity[i >>> 3] & (1 << (i & 7))) === 0;
}

/** `null` for JSON, nothing for CSV. */
function writeNull(bytes: Buffer, at: number, json: boolean): number {
  if (!json) return at;
  bytes[at] = 0x6e;
  bytes[at + 1] = 0x75;
  bytes[at + 2] = 0x6c;
  bytes[at + 3] = 0x6c;
  return at + 4;
}

function writeLatin1(bytes: Buffer, at: number, text: string): number {
  for (let k = 0; k < text.length; k++) bytes[at++] = text.charCodeAt(k);
  return at;
}

function formatBooleans(text: ColumnText, bits: Uint8Array, validity: Uint8Array | null, length: number, json: boolean): void {
  const bytes = text.prepare(length, length * 5);
  const ends = text.ends;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) at = writeNull(bytes, at, json);
    else if ((bits[i >>> 3] & (1 << (i & 7))) !== 0) {
      bytes[at] = 0x74;
      bytes[at + 1] = 0x72;
      bytes[at + 2] = 0x75;
      bytes[at + 3] = 0x65;
      at += 4;
    } else {
      bytes[at] = 0x66;
      bytes[at + 1] = 0x61;
      bytes[at + 2] = 0x6c;
      bytes[at + 3] = 0x73;
      bytes[at + 4] = 0x65;
      at += 5;
    }
    ends[i] = at;
  }
  text.size = at;
}

/** Numbers as `String(value)` writes them (`-0` as `0`); for JSON, NaN and ±Infinity as `null`. */
function formatNumbers(text: ColumnText, values: TypedArray, validity: Uint8Array | null, length: number, json: boolean): void {
  if (values instanceof Float64Array) {
    formatFloats(text, values, validity, length, json);
    return;
  }
  const bytes = text.prepare(length, length * NUMBER_BYTES);
  const ends = text.ends;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) at = writeNull(bytes, at, json);
    else {
      const value = values[i];
      if ((value | 0) === value) at = writeInt32(bytes, at, value | 0);
      else at = writeNumber(bytes, at, value, json);
    }
    ends[i] = at;
  }
  text.size = at;
}

/**
 * float64 columns: formatNumbers' loop with writeNumber's short-decimal case copied in, on purpose. A
 * double passed to a call that is not inlined is boxed in a new HeapNumber: one per price, the largest
 * garbage source of a CSV → CSV pipeline. Integer parts are passed as small integers (no box).
 */
function formatFloats(text: ColumnText, values: Float64Array, validity: Uint8Array | null, length: number, json: boolean): void {
  const bytes = text.prepare(length, length * NUMBER_BYTES);
  const ends = text.ends;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) {
      at = writeNull(bytes, at, json);
      ends[i] = at;
      continue;
    }
    const value = values[i];
    if ((value | 0) === value) {
      at = writeInt32(bytes, at, value | 0);
      ends[i] = at;
      continue;
    }
    const magnitude = value < 0 ? -value : value;
    // Same test and reasoning as in writeNumber, restricted to whole parts that are int32.
    const scaled = Math.round(magnitude * 10_000);
    if (magnitude < 2e9 && scaled / 10_000 === magnitude) {
      const whole = Math.floor(scaled / 10_000) | 0;
      let fraction = (scaled - whole * 10_000) | 0;
      let places = 4;
      while (fraction % 10 === 0) {
        fraction = (fraction / 10) | 0;
        places--;
      }
      if (value < 0) bytes[at++] = MINUS;
      at = writeInt32(bytes, at, whole);
      bytes[at++] = 0x2e;
      at = writeDigits(bytes, at, fraction, places);
    } else at = writeNumber(bytes, at, value, json);
    ends[i] = at;
  }
  text.size = at;
}

/** A non-negative int32 as exactly `width` digits, zero-padded. */
function writeDigits(bytes: Buffer, at: number, value: number, width: number): number {
  let position = at + width;
  let rest = value | 0;
  for (let k = 0; k < width; k++) {
    const quotient = (rest / 10) | 0;
    bytes[--position] = DIGIT_0 + (rest - quotient * 10);
    rest = quotient;
  }
  return at + width;
}

function writeInt32(bytes: Buffer, at: number, value: number): number {
  if (value < 0) {
    bytes[at++] = MINUS;
    value = -value; // -2^31 becomes 2^31, still exact below
  }
  let digits = 1;
  for (let bound = 10; bound <= value && digits < 10; bound *= 10) digits++;
  if (value > 0x7fffffff) {
    bytes[at++] = 0x32; // 2147483648
    return writeDigits(bytes, at, value - 2_000_000_000, 9);
  }
  return writeDigits(bytes, at, value, digits);
}

/** Any number other than an int32: safe integers and short decimals by digit loops, the rest through `String`. */
function writeNumber(bytes: Buffer, at: number, value: number, json: boolean): number {
  if (Number.isSafeInteger(value)) {
    if (value < 0) {
      bytes[at++] = MINUS;
      value = -value;
    }
    const high = Math.floor(value / 100_000_000);
    at = writeInt32(bytes, at, high);
    return writeDigits(bytes, at, value - high * 100_000_000, 8);
  }
  // At most 4 decimal places below 1e11: when `scaled / 10^4 === value`, the decimal D = scaled / 10^4
  // rounds to `value`, and below 1e11 a double's spacing is under 2e-5, so no other decimal on D's
  // grid (10^-4) or a coarser one does: D without trailing zeros is the shortest round-tripping
  // decimal, which is what `Number.prototype.toString` prints (plainly, since 1e-4 <= value < 1e21).
  const magnitude = value < 0 ? -value : value;
  if (magnitude < 1e11) {
    const scaled = Math.round(magnitude * 10_000);
    if (scaled / 10_000 === magnitude) {
      const whole = Math.floor(scaled / 10_000);
      let fraction = (scaled - whole * 10_000) | 0;
      let places = 4;
      while (fraction % 10 === 0) {
        fraction = (fraction / 10) | 0;
        places--;
      }
      if (value < 0) bytes[at++] = MINUS;
      if (whole <= 0x7fffffff) at = writeInt32(bytes, at, whole);
      else {
        const high = Math.floor(whole / 100_000_000);
        at = writeInt32(bytes, at, high);
        at = writeDigits(bytes, at, whole - high * 100_000_000, 8);
      }
      bytes[at++] = 0x2e;
      return writeDigits(bytes, at, fraction, places);
    }
  }
  if (json && !Number.isFinite(value)) return writeNull(bytes, at, true);
  return writeLatin1(bytes, at, String(value));
}

/** `YYYY-MM-DD` of days since the epoch (Hinnant's civil_from_days); false (nothing written) outside years 0000-9999. */
function writeCivilDate(bytes: Buffer, at: number, days: number): boolean {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return false;
  writeDigits(bytes, at, year, 4);
  bytes[at + 4] = MINUS;
  writeDigits(bytes, at + 5, month, 2);
  bytes[at + 7] = MINUS;
  writeDigits(bytes, at + 8, day, 2);
  return true;
}

/** ISO 8601 `YYYY-MM-DDTHH:MM:SS.sssZ` (as `toISOString`), quoted for JSON. */
function formatTimestamps(text: ColumnText, values: Float64Array, validity: Uint8Array | null, length: number, json: boolean): void {
  let bytes = text.prepare(length, length * TIMESTAMP_BYTES);
  const ends = text.ends;
  // Rows are often close in time: most timestamps repeat the previous one's day, whose 10 bytes are copied.
  let lastDays = Number.NaN;
  let lastDate = 0;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) {
      at = writeNull(bytes, at, json);
      ends[i] = at;
      continue;
    }
    const ms = values[i];
    if (json) bytes[at++] = QUOTE;
    if (!(ms >= -62_167_219_200_000 && ms < 253_402_300_800_000) || !Number.isInteger(ms)) {
      // Years outside 0000-9999 (and NaN, which throws as toISOString does).
      const iso = formatTimestamp(ms);
      if (at + iso.length + 1 > bytes.length) bytes = text.grow(at, at + iso.length + 1 + (length - i) * TIMESTAMP_BYTES);
      at = writeLatin1(bytes, at, iso);
      lastDays = Number.NaN;
    } else {
      const days = Math.floor(ms / MS_PER_DAY);
      let rest = ms - days * MS_PER_DAY;
      if (days === lastDays) {
        for (let k = 0; k < 10; k++) bytes[at + k] = bytes[lastDate + k];
      } else {
        writeCivilDate(bytes, at, days);
        lastDays = days;
      }
      lastDate = at;
      const hours = Math.floor(rest / 3_600_000);
      rest -= hours * 3_600_000;
      const minutes = Math.floor(rest / 60_000);
      rest -= minutes * 60_000;
      const seconds = Math.floor(rest / 1000);
      bytes[at + 10] = 0x54; // T
      writeDigits(bytes, at + 11, hours, 2);
      bytes[at + 13] = 0x3a;
      writeDigits(bytes, at + 14, minutes, 2);
      bytes[at + 16] = 0x3a;
      writeDigits(bytes, at + 17, seconds, 2);
      bytes[at + 19] = 0x2e;
      writeDigits(bytes, at + 20, rest - seconds * 1000, 3);
      bytes[at + 23] = 0x5a; // Z
      at += 24;
    }
    if (json) bytes[at++] = QUOTE;
    ends[i] = at;
  }
  text.size = at;
}

/** `YYYY-MM-DD`, quoted for JSON. */
function formatDates(text: ColumnText, values: Int32Array, validity: Uint8Array | null, length: number, json: boolean): void {
  let bytes = text.prepare(length, length * TIMESTAMP_BYTES);
  const ends = text.ends;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) {
      at = writeNull(bytes, at, json);
      ends[i] = at;
      continue;
    }
    if (json) bytes[at++] = QUOTE;
    const days = values[i];
    if (writeCivilDate(bytes, at, days)) at += 10;
    else {
      const iso = formatDate(days);
      if (at + iso.length + 1 > bytes.length) bytes = text.grow(at, at + iso.length + 1 + (length - i) * TIMESTAMP_BYTES);
      at = writeLatin1(bytes, at, iso);
    }
    if (json) bytes[at++] = QUOTE;
    ends[i] = at;
  }
  text.size = at;
}

function formatDictionary(
  text: ColumnText,
  codes: TypedArray,
  validity: Uint8Array | null,
  length: number,
  encoded: readonly (Uint8Array | undefined)[],
  json: boolean,
): void {
  let longest = 4;
  for (const value of encoded) if (value !== undefined && value.length > longest) longest = value.length;
  const bytes = text.prepare(length, length * longest);
  const ends = text.ends;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) at = writeNull(bytes, at, json);
    else {
      const value = encoded[codes[i]]!;
      for (let k = 0; k < value.length; k++) bytes[at++] = value[k];
    }
    ends[i] = at;
  }
  text.size = at;
}

/** CSV: ASCII characters `\s` matches (a non-ASCII first or last character takes the `quote` path anyway). */
function isAsciiSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/**
 * Strings: those made of plain ASCII that needs neither CSV quoting nor JSON escaping are copied while
 * checked; the others go through `quote` (CSV) or `JSON.stringify`, then UTF-8.
 */
function formatStrings(text: ColumnText, strings: readonly string[], validity: Uint8Array | null, length: number, style: TextStyle): void {
  let bytes = text.prepare(length, length * 16);
  const ends = text.ends;
  const json = style.json;
  let at = 0;
  for (let i = 0; i < length; i++) {
    if (isNull(validity, i)) {
      if (json) {
        if (at + 4 > bytes.length) bytes = text.grow(at, at + 4 + (length - i) * 16);
        at = writeNull(bytes, at, true);
      }
      ends[i] = at;
      continue;
    }
    const value = strings[i];
    const size = value.length;
    // Quoting doubles a character at most and escaping makes at most 6 bytes of one: 6 bytes each, and 2 quotes.
    if (at + size * 6 + 2 > bytes.length) bytes = text.grow(at, at + size * 6 + 2 + (length - i) * 16);
    if (json) at = writeJsonString(bytes, at, value);
    else at = writeCsvString(bytes, at, value, style);
    ends[i] = at;
  }
  text.size = at;
}


/** A JSON string: plain ASCII without `"`, `\` or control characters copied, the rest through `JSON.stringify`. Needs room for 6 bytes per character + 2. */
function writeJsonString(bytes: Buffer, at: number, value: string): number {
  const size = value.length;
  const start = at + 1;
  let k = 0;
  for (; k < size; k++) {
    const code = value.charCodeAt(k);
    if (code >= 0x7f || code < 0x20 || code === QUOTE || code === BACKSLASH) break;
    bytes[start + k] = code;
  }
  if (k === size) {
    bytes[at] = QUOTE;
    bytes[start + size] = QUOTE;
    return start + size + 1;
  }
  return at + utf8Write.call(bytes, JSON.stringify(value), at, bytes.length - at);
}

/**
 * A CSV field, as `style.quote` writes it: for ASCII text the same decision (quotes around an empty
 * string, one holding the delimiter, a quote, CR or LF, or starting or ending with a space) made while
 * copying, quotes doubled; other text through `style.quote`. Needs room for 6 bytes per character + 2.
 */
function writeCsvString(bytes: Buffer, at: number, value: string, style: TextStyle): number {
  const size = value.length;
  const delimiter = style.delimiter;
  let quotes = 0;
  let special = size === 0;
  let k = 0;
  for (; k < size; k++) {
    const code = value.charCodeAt(k);
    if (code >= 0x80) break;
    if (code === QUOTE) quotes++;
    else if (code === delimiter || code === 0x0a || code === 0x0d) special = true;
  }
  if (k < size) {
    const encoded = style.quote(value);
    return at + utf8Write.call(bytes, encoded, at, bytes.length - at);
  }
  if (!special && quotes === 0 && !isAsciiSpace(value.charCodeAt(0)) && !isAsciiSpace(value.charCodeAt(size - 1))) {
    for (k = 0; k < size; k++) bytes[at + k] = value.charCodeAt(k);
    return at + size;
  }
  bytes[at++] = QUOTE;
  for (k = 0; k < size; k++) {
    const code = value.charCodeAt(k);
    if (code === QUOTE) bytes[at++] = QUOTE;
    bytes[at++] = code;
  }
  bytes[at++] = QUOTE;
  return at;
}
