/**
 * Dates and timestamps straight from bytes (ISO 8601), as the number parsers do numbers: `buf[start,
 * end)` in, days or milliseconds since the epoch out, NaN for "not this type". Ranges are checked
 * (months, the days of each month, hours, minutes, seconds), not rolled over.
 */
import { PARSED } from './byte-numbers.ts';
import { daysFromCivil, daysInMonth } from './civil.ts';

const DIGIT_0 = 0x30;
const PLUS = 0x2b;
const MINUS = 0x2d;
const DOT = 0x2e;
const RESULT = PARSED;

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
