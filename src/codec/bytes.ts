/**
 * Values straight from bytes, without making a string per field: the typed-column half of the CSV hot
 * path. Every parser takes `buf[start, end)` and returns a number, with NaN (or -1 for booleans) for
 * "not this type", so the caller decides between widening, null and rejecting.
 *
 * No parser trims spaces: `" 12"` is not an integer. Trimming is a column option, not a guess.
 */
import { daysFromCivil, daysInMonth } from './civil.ts';

const DIGIT_0 = 0x30;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;

type Slice = (this: Uint8Array, start: number, end: number) => string;
// Buffer's own decoders accept any Uint8Array and measured fastest for short fields (~55 ns per field,
// vs ~100 ns for TextDecoder#decode of a subarray). They return a fresh flat string that does not keep
// `buf` alive; `bigString.slice()` would instead make a sliced string pinning the whole parent.
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: Slice }).utf8Slice;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: Slice }).latin1Slice;

/** UTF-8 text of `buf[start, end)`; invalid sequences become U+FFFD (validate first with {@link findInvalidUtf8}). */
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string {
  return utf8Slice.call(buf, start, end);
}

/** Latin-1 (ISO-8859-1) text of `buf[start, end)`: one character per byte. */
export function decodeLatin1(buf: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(buf, start, end);
}

/**
 * Offset of the first byte of the first invalid UTF-8 sequence in `buf[start, end)`, or -1. Overlong
 * forms, surrogates and code points above U+10FFFF are invalid, as is a sequence cut by `end` (validate
 * whole records, which never end inside a character).
 */
export function findInvalidUtf8(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  for (;;) {
    // ASCII runs are the common case: one compare per byte.
    while (i < end && buf[i] < 0x80) i++;
    if (i >= end) return -1;
    const lead = buf[i];
    if (lead < 0xc2) return i; // continuation byte, or overlong 2-byte lead
    if (lead < 0xe0) {
      if (i + 1 >= end || (buf[i + 1] & 0xc0) !== 0x80) return i;
      i += 2;
    } else if (lead < 0xf0) {
      if (i + 2 >= end) return i;
      const b1 = buf[i + 1];
      if ((b1 & 0xc0) !== 0x80 || (buf[i + 2] & 0xc0) !== 0x80) return i;
      if (lead === 0xe0 && b1 < 0xa0) return i; // overlong
      if (lead === 0xed && b1 >= 0xa0) return i; // UTF-16 surrogate
      i += 3;
    } else if (lead < 0xf5) {
      if (i + 3 >= end) return i;
      const b1 = buf[i + 1];
      if ((b1 & 0xc0) !== 0x80 || (buf[i + 2] & 0xc0) !== 0x80 || (buf[i + 3] & 0xc0) !== 0x80) return i;
      if (lead === 0xf0 && b1 < 0x90) return i; // overlong
      if (lead === 0xf4 && b1 >= 0x90) return i; // above U+10FFFF
      i += 4;
    } else {
      return i;
    }
  }
}

/**
 * Copies a quoted field's bytes into `out` with each doubled quote collapsed to one; returns the length
 * written. `out` must hold `end - start` bytes. Writes to a separate buffer so the input stays intact
 * (the scanner may still need it to locate an error).
 */
export function collapseQuotes(buf: Uint8Array, start: number, end: number, out: Uint8Array, quote = 0x22): number {
  let length = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    out[length++] = c;
    if (c === quote && i + 1 < end && buf[i + 1] === quote) i++;
  }
  return length;
}

/**
 * `[+-]?[0-9]+` → the integer, else NaN. Up to 15 digits are exact; longer ones fall back to
 * `Number()` (check `Number.isSafeInteger` where it matters).
 */
export function parseInteger(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end) {
    const c = buf[i];
    if (c === MINUS) {
      negative = true;
      i++;
    } else if (c === PLUS) i++;
  }
  if (i >= end) return NaN;
  if (end - i > 15) return parseLongInteger(buf, i, end, negative);
  let value = 0;
  for (; i < end; i++) {
    const digit = buf[i] - DIGIT_0;
    if (digit < 0 || digit > 9) return NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

function parseLongInteger(buf: Uint8Array, start: number, end: number, negative: boolean): number {
  for (let i = start; i < end; i++) {
    const digit = buf[i] - DIGIT_0;
    if (digit < 0 || digit > 9) return NaN;
  }
  const value = Number(latin1Slice.call(buf, start, end));
  return negative ? -value : value;
}

/**
 * Where {@link scanFloat64} and {@link scanTimestamp} leave their double. A double returned from a call
 * V8 does not inline is boxed in a fresh HeapNumber: per value, that was half of the CSV reader's garbage
 * (3 doubles per row of the orders file) and made the young generation grow. Hot loops call the scan
 * form and read `PARSED[0]`; the parse forms are for everyone else.
 */
export const PARSED = new Float64Array(1);
const RESULT = PARSED;

/** Exact powers of ten: every 10^k for k <= 22 is a double, so one multiply or divide rounds correctly. */
const POWERS_OF_TEN = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];

/**
 * A decimal number `[+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?` → exactly the double `Number(text)`
 * gives, else NaN. `NaN`, `Infinity`, hex and empty input are not accepted.
 *
 * Fast path (Clinger): at most 15 significant digits and a decimal exponent within ±22 make an exact
 * integer times or divided by an exact power of ten: one correctly rounded operation. Anything else goes
 * through `Number()` on the latin-1 text.
 */
export function parseFloat64(buf: Uint8Array, start: number, end: number): number {
  scanFloat64(buf, start, end);
  return RESULT[0];
}

/** {@link parseFloat64} into `PARSED[0]`. */
export function scanFloat64(buf: Uint8Array, start: number, end: number): void {
  let i = start;
  let negative = false;
  if (i < end) {
    const c = buf[i];
    if (c === MINUS) {
      negative = true;
      i++;
    } else if (c === PLUS) i++;
  }
  let mantissa = 0;
  let significant = 0; // digits after leading zeros
  let digits = 0;
  let exponent = 0;
  let c = 0;
  for (; i < end; i++) {
    c = buf[i] - DIGIT_0;
    if (c < 0 || c > 9) break;
    digits++;
    if (significant > 0 || c !== 0) {
      significant++;
      mantissa = mantissa * 10 + c;
    }
  }
  if (i < end && buf[i] === DOT) {
    i++;
    for (; i < end; i++) {
      c = buf[i] - DIGIT_0;
      if (c < 0 || c > 9) break;
      digits++;
      exponent--;
      if (significant > 0 || c !== 0) {
        significant++;
        mantissa = mantissa * 10 + c;
      }
    }
  }
  if (digits === 0) { RESULT[0] = NaN; return; }
  if (i < end) {
    c = buf[i];
    if (c !== 0x65 && c !== 0x45) { RESULT[0] = NaN; return; } // e E
    i++;
    let exponentNegative = false;
    if (i < end) {
      c = buf[i];
      if (c === MINUS) {
        exponentNegative = true;
        i++;
      } else if (c === PLUS) i++;
    }
    if (i >= end) { RESULT[0] = NaN; return; }
    let written = 0;
    for (; i < end; i++) {
      c = buf[i] - DIGIT_0;
      if (c < 0 || c > 9) { RESULT[0] = NaN; return; }
      // Clamp: beyond this every result is 0 or Infinity anyway, and the slow path sorts it out.
      if (written < 100000) written = written * 10 + c;
    }
    exponent += exponentNegative ? -written : written;
  }
  if (significant > 15 || exponent > 22 || exponent < -22) {
    RESULT[0] = Number(latin1Slice.call(buf, start, end));
    return;
  }
  const value = exponent >= 0 ? mantissa * POWERS_OF_TEN[exponent] : mantissa / POWERS_OF_TEN[-exponent];
  RESULT[0] = negative ? -value : value;
}

/**
 * `true/false`, `t/f`, `yes/no`, `y/n`, `1/0`, any case → 1 or 0; anything else → -1.
 */
export function parseBoolean(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length === 1) {
    const c = buf[start] | 0x20;
    if (c === 0x74 || c === 0x79 || buf[start] === 0x31) return 1; // t y 1
    if (c === 0x66 || c === 0x6e || buf[start] === 0x30) return 0; // f n 0
    return -1;
  }
  // Lower-case letters by OR-ing 0x20; a non-letter that maps onto a letter cannot match all bytes.
  if (length === 4) {
    if ((buf[start] | 0x20) === 0x74 && (buf[start + 1] | 0x20) === 0x72 && (buf[start + 2] | 0x20) === 0x75 && (buf[start + 3] | 0x20) === 0x65) return 1;
    return -1;
  }
  if (length === 5) {
    if ((buf[start] | 0x20) === 0x66 && (buf[start + 1] | 0x20) === 0x61 && (buf[start + 2] | 0x20) === 0x6c && (buf[start + 3] | 0x20) === 0x73 && (buf[start + 4] | 0x20) === 0x65) return 0;
    return -1;
  }
  if (length === 3) {
    if ((buf[start] | 0x20) === 0x79 && (buf[start + 1] | 0x20) === 0x65 && (buf[start + 2] | 0x20) === 0x73) return 1;
    return -1;
  }
  if (length === 2) {
    if ((buf[start] | 0x20) === 0x6e && (buf[start + 1] | 0x20) === 0x6f) return 0;
    return -1;
  }
  return -1;
}

const MS_PER_DAY = 86_400_000;

/** Two ASCII digits at `i` as a number, or -1. */
function twoDigits(buf: Uint8Array, i: number): number {
  const a = buf[i] - DIGIT_0;
  const b = buf[i + 1] - DIGIT_0;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

// Dates in a file come in runs of the same month (logs, orders): remember the last month's first day and
// length, so most values cost no calendar arithmetic.
let cachedMonth = -1;
let cachedMonthStart = 0;
let cachedMonthDays = 0;

/** Days since the epoch of `day` in `month` of `year` (month 1-12, day ≥ 1), or NaN past the month's end. */
function daysOf(year: number, month: number, day: number): number {
  const key = year * 16 + month;
  if (key !== cachedMonth) {
    cachedMonthStart = daysFromCivil(year, month, 1);
    cachedMonthDays = daysInMonth(year, month);
    cachedMonth = key;
  }
  return day > cachedMonthDays ? NaN : cachedMonthStart + day - 1;
}

/** `YYYY-MM-DD` at `start` (needs 10 bytes) → days since the epoch, or NaN. */
function dateAt(buf: Uint8Array, start: number): number {
  const high = twoDigits(buf, start);
  const low = twoDigits(buf, start + 2);
  if (high < 0 || low < 0 || buf[start + 4] !== MINUS || buf[start + 7] !== MINUS) return NaN;
  const month = twoDigits(buf, start + 5);
  const day = twoDigits(buf, start + 8);
  if (month < 1 || month > 12 || day < 1) return NaN;
  return daysOf(high * 100 + low, month, day);
}

/** Digit value of each byte, or 0x100 for a non-digit: OR-ing a field's lookups tells whether all were digits. */
const DIGIT_VALUE = new Uint16Array(256).fill(0x100);
for (let d = 0; d <= 9; d++) DIGIT_VALUE[DIGIT_0 + d] = d;

/**
 * `YYYY-MM-DDTHH:MM:SSZ`, the layout most machine-written timestamps use (20 bytes, checked by the
 * caller): → ms since the epoch, or NaN. One digit check for all 14 digits, the month from the cache.
 */
export function scanUtcSecondsTimestamp(buf: Uint8Array, start: number): void {
  const y0 = DIGIT_VALUE[buf[start]];
  const y1 = DIGIT_VALUE[buf[start + 1]];
  const y2 = DIGIT_VALUE[buf[start + 2]];
  const y3 = DIGIT_VALUE[buf[start + 3]];
  const m0 = DIGIT_VALUE[buf[start + 5]];
  const m1 = DIGIT_VALUE[buf[start + 6]];
  const d0 = DIGIT_VALUE[buf[start + 8]];
  const d1 = DIGIT_VALUE[buf[start + 9]];
  const h0 = DIGIT_VALUE[buf[start + 11]];
  const h1 = DIGIT_VALUE[buf[start + 12]];
  const i0 = DIGIT_VALUE[buf[start + 14]];
  const i1 = DIGIT_VALUE[buf[start + 15]];
  const s0 = DIGIT_VALUE[buf[start + 17]];
  const s1 = DIGIT_VALUE[buf[start + 18]];
  if (((y0 | y1 | y2 | y3 | m0 | m1 | d0 | d1 | h0 | h1 | i0 | i1 | s0 | s1) & 0x100) !== 0) { RESULT[0] = NaN; return; }
  if (buf[start + 4] !== MINUS || buf[start + 7] !== MINUS || buf[start + 13] !== 0x3a || buf[start + 16] !== 0x3a) { RESULT[0] = NaN; return; }
  const month = m0 * 10 + m1;
  const day = d0 * 10 + d1;
  const hour = h0 * 10 + h1;
  const minute = i0 * 10 + i1;
  const second = s0 * 10 + s1;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) { RESULT[0] = NaN; return; }
  const days = daysOf(y0 * 1000 + y1 * 100 + y2 * 10 + y3, month, day);
  RESULT[0] = days * MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000;
}

/** `YYYY-MM-DD` → days since 1970-01-01 (Arrow date32), or NaN. */
export function parseDate(buf: Uint8Array, start: number, end: number): number {
  if (end - start !== 10) return NaN;
  return dateAt(buf, start);
}

/**
 * ISO 8601 → milliseconds since the epoch, or NaN:
 * `YYYY-MM-DD`, or `YYYY-MM-DD[T ]HH:MM[:SS[.f…]]` then optionally `Z` or `±HH:MM` / `±HHMM`.
 * No zone means UTC (unlike `Date.parse`, which uses local time there). Fractions past milliseconds are
 * truncated, as V8 does. Ranges are checked: month 1-12, the real days of the month (leap years),
 * hour 0-23, minute and second 0-59; `Date.parse` accepts `24:00` and rolls `02-30` over, we reject them.
 */
export function parseTimestamp(buf: Uint8Array, start: number, end: number): number {
  scanTimestamp(buf, start, end);
  return RESULT[0];
}

/** {@link parseTimestamp} into `PARSED[0]`. */
export function scanTimestamp(buf: Uint8Array, start: number, end: number): void {
  const length = end - start;
  if (length === 20 && buf[start + 19] === 0x5a && buf[start + 10] === 0x54) {
    scanUtcSecondsTimestamp(buf, start);
    return;
  }
  if (length < 10) { RESULT[0] = NaN; return; }
  const days = dateAt(buf, start);
  if (days !== days) { RESULT[0] = NaN; return; }
  if (length === 10) { RESULT[0] = days * MS_PER_DAY; return; }
  const separator = buf[start + 10];
  if ((separator !== 0x54 && separator !== 0x20 && separator !== 0x74) || length < 16) { RESULT[0] = NaN; return; } // T, space, t
  const hour = twoDigits(buf, start + 11);
  const minute = twoDigits(buf, start + 14);
  if (buf[start + 13] !== 0x3a || hour < 0 || hour > 23 || minute < 0 || minute > 59) { RESULT[0] = NaN; return; }
  let ms = days * MS_PER_DAY + hour * 3_600_000 + minute * 60_000;
  let i = start + 16;
  if (i < end && buf[i] === 0x3a) {
    if (i + 3 > end) { RESULT[0] = NaN; return; }
    const second = twoDigits(buf, i + 1);
    if (second < 0 || second > 59) { RESULT[0] = NaN; return; }
    ms += second * 1000;
    i += 3;
    if (i < end && buf[i] === DOT) {
      i++;
      const fractionStart = i;
      let fraction = 0;
      for (; i < end; i++) {
        const digit = buf[i] - DIGIT_0;
        if (digit < 0 || digit > 9) break;
        if (i - fractionStart < 3) fraction = fraction * 10 + digit;
      }
      const fractionDigits = i - fractionStart;
      if (fractionDigits === 0) { RESULT[0] = NaN; return; }
      if (fractionDigits === 1) fraction *= 100;
      else if (fractionDigits === 2) fraction *= 10;
      ms += fraction;
    }
  }
  if (i === end) { RESULT[0] = ms; return; }
  const zone = buf[i];
  if (zone === 0x5a || zone === 0x7a) { RESULT[0] = i + 1 === end ? ms : NaN; return; } // Z z
  if (zone !== PLUS && zone !== MINUS) { RESULT[0] = NaN; return; }
  const rest = end - i;
  if (rest !== 6 && rest !== 5) { RESULT[0] = NaN; return; }
  const offsetHours = twoDigits(buf, i + 1);
  let minuteAt = i + 3;
  if (rest === 6) {
    if (buf[i + 3] !== 0x3a) { RESULT[0] = NaN; return; }
    minuteAt = i + 4;
  }
  const offsetMinutes = twoDigits(buf, minuteAt);
  if (offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) { RESULT[0] = NaN; return; }
  const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
  RESULT[0] = zone === PLUS ? ms - offset : ms + offset;
}

/**
 * Byte sequences → small integer codes, with no string made for a value already seen: backs
 * dictionary-encoded columns (the column maps code → string once per distinct value).
 *
 * Open addressing with linear probing over an Int32Array of entry numbers; keys are copied into one
 * growing byte arena, so the dictionary holds no reference to the input buffers.
 */
const RECENT_MASK = 255;

export class ByteDictionary {
  private slots: Int32Array; // entry + 1, 0 = empty
  private mask: number;
  private hashes: Int32Array;
  private keyStarts: Int32Array;
  private keyEnds: Int32Array;
  private codes: Int32Array;
  private arena: Uint8Array;
  private arenaLength = 0;
  private count = 0;
  /** Entry + 1 last found per front-cache slot, 0 = none (see lookup). */
  private readonly recent = new Int32Array(RECENT_MASK + 1);

  constructor(expectedEntries = 64) {
    let capacity = 16;
    while (capacity < expectedEntries * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.hashes = new Int32Array(capacity >> 1);
    this.keyStarts = new Int32Array(capacity >> 1);
    this.keyEnds = new Int32Array(capacity >> 1);
    this.codes = new Int32Array(capacity >> 1);
    this.arena = new Uint8Array(Math.max(256, expectedEntries * 16));
  }

  /** Number of keys. */
  get size(): number {
    return this.count;
  }

  /** Bytes held, for memory accounting. */
  get byteSize(): number {
    return this.slots.byteLength + this.recent.byteLength + this.hashes.byteLength * 4 + this.arena.byteLength;
  }

  /** The code of `buf[start, end)`, or -1. */
  lookup(buf: Uint8Array, start: number, end: number): number {
    // Front cache: a slot picked by length, first and last byte remembers the entry last found there.
    // Dictionary columns hold few, short values, so this usually settles a value with one compare and
    // no hashing; a miss (or a collision) costs one compare more than the hashed lookup.
    const length = end - start;
    if (length > 0) {
      const recent = (length * 31 + buf[start] * 7 + buf[end - 1]) & RECENT_MASK;
      const entry = this.recent[recent] - 1;
      if (entry >= 0) {
        const keyStart = this.keyStarts[entry];
        if (this.keyEnds[entry] - keyStart === length && bytesEqual(this.arena, keyStart, buf, start, length)) return this.codes[entry];
      }
      const found = this.find(buf, start, end);
      if (found >= 0) this.recent[recent] = found + 1;
      return found < 0 ? -1 : this.codes[found];
    }
    const found = this.find(buf, start, end);
    return found < 0 ? -1 : this.codes[found];
  }

  /** The entry of `buf[start, end)`, or -1. */
  private find(buf: Uint8Array, start: number, end: number): number {
    const hash = hashBytes(buf, start, end);
    const slots = this.slots;
    const mask = this.mask;
    const length = end - start;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] - 1;
      if (entry < 0) return -1;
      if (this.hashes[entry] === hash) {
        const keyStart = this.keyStarts[entry];
        if (this.keyEnds[entry] - keyStart === length && bytesEqual(this.arena, keyStart, buf, start, length)) return entry;
      }
    }
  }

  /** Maps `buf[start, end)` to `code` (copying the bytes); replaces the code of a key already present. */
  add(buf: Uint8Array, start: number, end: number, code: number): void {
    const hash = hashBytes(buf, start, end);
    const length = end - start;
    for (let slot = hash & this.mask; ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot] - 1;
      if (entry < 0) {
        const created = this.count++;
        this.slots[slot] = created + 1;
        if (this.arenaLength + length > this.arena.length) this.growArena(this.arenaLength + length);
        this.arena.set(buf.subarray(start, end), this.arenaLength);
        this.hashes[created] = hash;
        this.keyStarts[created] = this.arenaLength;
        this.keyEnds[created] = this.arenaLength + length;
        this.codes[created] = code;
        this.arenaLength += length;
        if (this.count * 2 > this.mask) this.growTable();
        return;
      }
      const keyStart = this.keyStarts[entry];
      if (this.hashes[entry] === hash && this.keyEnds[entry] - keyStart === length && bytesEqual(this.arena, keyStart, buf, start, length)) {
        this.codes[entry] = code;
        return;
      }
    }
  }

  /** Forget every key, keeping the allocated memory. */
  clear(): void {
    this.slots.fill(0);
    this.recent.fill(0);
    this.count = 0;
    this.arenaLength = 0;
  }

  private growArena(needed: number): void {
    const next = new Uint8Array(Math.max(needed, this.arena.length * 2));
    next.set(this.arena.subarray(0, this.arenaLength));
    this.arena = next;
  }

  private growTable(): void {
    const capacity = this.slots.length * 2;
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = this.hashes[entry] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = entry + 1;
    }
    this.slots = slots;
    this.mask = mask;
    const entries = capacity >> 1;
    this.hashes = grownInt32(this.hashes, entries);
    this.keyStarts = grownInt32(this.keyStarts, entries);
    this.keyEnds = grownInt32(this.keyEnds, entries);
    this.codes = grownInt32(this.codes, entries);
  }
}

function grownInt32(array: Int32Array, length: number): Int32Array {
  const next = new Int32Array(length);
  next.set(array);
  return next;
}

/** FNV-1a, finished with a multiply-xorshift so the low bits (the slot) depend on every byte. */
function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buf[i], 0x01000193);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  return hash ^ (hash >>> 12);
}

function bytesEqual(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a[aStart + k] !== b[bStart + k]) return false;
  return true;
}

/** Longest value {@link StringCache} keeps: longer ones are rarely repeated and cost more to compare. */
const CACHED_STRING_BYTES = 48;
const STRING_SLOTS = 256;

/**
 * The strings last decoded from short byte sequences, so a repeated value of a string column (a
 * status, a category, a note from a fixed list) is neither decoded nor allocated again: the column
 * holds the same string. Direct-mapped by length, first and last byte; a miss costs one compare.
 * Keys are copied, so the cache never points into an input buffer.
 */
export class StringCache {
  private readonly keys = new Uint8Array(STRING_SLOTS * CACHED_STRING_BYTES);
  private readonly lengths = new Int32Array(STRING_SLOTS).fill(-1);
  private readonly values: string[] = new Array<string>(STRING_SLOTS).fill('');

  /** The string stored for `buf[start, end)`, or undefined. */
  get(buf: Uint8Array, start: number, end: number): string | undefined {
    const length = end - start;
    if (length > CACHED_STRING_BYTES || length === 0) return undefined;
    const slot = (length * 31 + buf[start] * 7 + buf[end - 1]) & (STRING_SLOTS - 1);
    if (this.lengths[slot] !== length || !bytesEqual(this.keys, slot * CACHED_STRING_BYTES, buf, start, length)) return undefined;
    return this.values[slot];
  }

  /** Remembers `value` as the string of `buf[start, end)` (replacing what its slot held). */
  set(buf: Uint8Array, start: number, end: number, value: string): void {
    const length = end - start;
    if (length > CACHED_STRING_BYTES || length === 0) return;
    const slot = (length * 31 + buf[start] * 7 + buf[end - 1]) & (STRING_SLOTS - 1);
    this.keys.set(buf.subarray(start, end), slot * CACHED_STRING_BYTES);
    this.lengths[slot] = length;
    this.values[slot] = value;
  }
}
