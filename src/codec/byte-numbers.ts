/**
 * Numbers and booleans straight from bytes, without making a string per field: the typed-column half
 * of the CSV hot path. Every parser takes `buf[start, end)` and returns a number, with NaN (or -1 for
 * booleans) for "not this type", so the caller decides between widening, null and rejecting.
 *
 * No parser trims spaces: `" 12"` is not an integer. Trimming is a column option, not a guess.
 */
import { decodeLatin1 } from './byte-text.ts';

const DIGIT_0 = 0x30;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;

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
  const value = Number(decodeLatin1(buf, start, end));
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
    RESULT[0] = Number(decodeLatin1(buf, start, end));
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
