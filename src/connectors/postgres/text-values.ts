/**
 * Values from PostgreSQL's text output (what a cursor returns with identity type parsers, and what
 * `COPY … TO STDOUT` writes), into the numbers Sluice columns store. Two forms of each parser: one over a
 * JS string (cursor mode: pg has already made a string per field) and one over bytes (COPY mode: no
 * string per field). Both return NaN for text they do not understand, so the caller rejects the row.
 *
 * Every session Sluice opens sets `DateStyle = ISO` (session.ts), so dates are `YYYY-MM-DD` and timestamps
 * `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]`. pg's own parsers are not used: they turn dates into
 * local-time Date objects and int8 into strings.
 */
import { daysFromCivil } from '../../codec/civil.ts';

const MS_PER_DAY = 86_400_000;
const DIGIT_0 = 0x30;

// Rows of one result often share a day: the last date parsed is remembered.
let lastDateKey = -1;
let lastDateDays = 0;
let dateEnd = 0;
let dateYear = 0;
let dateMonth = 0;
let dateDay = 0;

// The parsers below come twice, over bytes (COPY) and over a string (cursor): the same code, duplicated
// on purpose, because one version over an accessor function measured 5-10x slower (~250-680 ns per
// timestamp) than direct indexing.
// Rows of one result often share a day: the last date parsed is remembered by its 10 code units.

/**
 * Parses the date part (`YYYY-MM-DD`, years of more than 4 digits allowed) from `start`; returns the days
 * and sets `dateEnd` to the index after it, or NaN.
 */
function parseDatePartBytes(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let year = 0;
  while (i < end) {
    const digit = buf[i] - DIGIT_0;
    if (digit < 0 || digit > 9) break;
    year = year * 10 + digit;
    i++;
  }
  if (i - start < 4 || i + 6 > end || buf[i] !== 0x2d || buf[i + 3] !== 0x2d) return NaN;
  const m1 = buf[i + 1] - DIGIT_0;
  const m2 = buf[i + 2] - DIGIT_0;
  const d1 = buf[i + 4] - DIGIT_0;
  const d2 = buf[i + 5] - DIGIT_0;
  if (m1 < 0 || m1 > 9 || m2 < 0 || m2 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return NaN;
  const month = m1 * 10 + m2;
  const day = d1 * 10 + d2;
  dateEnd = i + 6;
  dateYear = year;
  dateMonth = month;
  dateDay = day;
  const key = (year * 100 + month) * 100 + day;
  if (key === lastDateKey) return lastDateDays;
  if (month < 1 || month > 12 || day < 1 || day > 31) return NaN;
  lastDateKey = key;
  lastDateDays = daysFromCivil(year, month, day);
  return lastDateDays;
}

function isBcBytes(buf: Uint8Array, i: number, end: number): boolean {
  return end - i === 3 && buf[i] === 0x20 && buf[i + 1] === 0x42 && buf[i + 2] === 0x43;
}

/** The date just parsed, BC: year Y BC is astronomical year 1 - Y (there is no year 0). */
function bcDays(): number {
  return daysFromCivil(1 - dateYear, dateMonth, dateDay);
}

function infinityBytes(buf: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length === 8 && buf[start] === 0x69) return Infinity; // infinityBytes
  if (length === 9 && buf[start] === 0x2d && buf[start + 1] === 0x69) return -Infinity;
  return NaN;
}

function dateFromBytes(buf: Uint8Array, start: number, end: number): number {
  const days = parseDatePartBytes(buf, start, end);
  if (days !== days) return infinityBytes(buf, start, end);
  if (dateEnd === end) return days;
  if (isBcBytes(buf, dateEnd, end)) return bcDays();
  return NaN;
}

function twoDigitsBytes(buf: Uint8Array, i: number): number {
  const a = buf[i] - DIGIT_0;
  const b = buf[i + 1] - DIGIT_0;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/**
 * `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]` → UTC milliseconds. No zone (timestamp without time
 * zone) is read as UTC. Microseconds are truncated to milliseconds. `infinity` → ±Infinity.
 */
function timestampFromBytes(buf: Uint8Array, start: number, end: number): number {
  const days = parseDatePartBytes(buf, start, end);
  if (days !== days) return infinityBytes(buf, start, end);
  let i = dateEnd;
  if (i + 9 > end || buf[i] !== 0x20 || buf[i + 3] !== 0x3a || buf[i + 6] !== 0x3a) return NaN;
  const hours = twoDigitsBytes(buf, i + 1);
  const minutes = twoDigitsBytes(buf, i + 4);
  const seconds = twoDigitsBytes(buf, i + 7);
  if (hours < 0 || minutes < 0 || seconds < 0) return NaN;
  let ms = hours * 3_600_000 + minutes * 60_000 + seconds * 1000;
  i += 9;
  if (i < end && buf[i] === 0x2e) {
    i++;
    let scale = 100;
    for (; i < end; i++) {
      const digit = buf[i] - DIGIT_0;
      if (digit < 0 || digit > 9) break;
      ms += digit * scale;
      scale /= 10;
    }
    ms = Math.floor(ms);
  }
  if (i < end) {
    const sign = buf[i];
    if (sign === 0x2b || sign === 0x2d) {
      const offsetHours = twoDigitsBytes(buf, i + 1);
      if (offsetHours < 0) return NaN;
      let offset = offsetHours * 3600;
      i += 3;
      if (i < end && buf[i] === 0x3a) {
        const offsetMinutes = twoDigitsBytes(buf, i + 1);
        if (offsetMinutes < 0) return NaN;
        offset += offsetMinutes * 60;
        i += 3;
        if (i < end && buf[i] === 0x3a) {
          const offsetSeconds = twoDigitsBytes(buf, i + 1);
          if (offsetSeconds < 0) return NaN;
          offset += offsetSeconds;
          i += 3;
        }
      }
      ms -= (sign === 0x2b ? offset : -offset) * 1000;
    }
  }
  let dayCount = days;
  if (i !== end) {
    if (!isBcBytes(buf, i, end)) return NaN;
    dayCount = bcDays();
  }
  return dayCount * MS_PER_DAY + ms;
}

// Rows of one result often share a day: the last date parsed is remembered by its 10 code units.

/**
 * Parses the date part (`YYYY-MM-DD`, years of more than 4 digits allowed) from `start`; returns the days
 * and sets `dateEnd` to the index after it, or NaN.
 */
function parseDatePartText(text: string, start: number, end: number): number {
  let i = start;
  let year = 0;
  while (i < end) {
    const digit = text.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) break;
    year = year * 10 + digit;
    i++;
  }
  if (i - start < 4 || i + 6 > end || text.charCodeAt(i) !== 0x2d || text.charCodeAt(i + 3) !== 0x2d) return NaN;
  const m1 = text.charCodeAt(i + 1) - DIGIT_0;
  const m2 = text.charCodeAt(i + 2) - DIGIT_0;
  const d1 = text.charCodeAt(i + 4) - DIGIT_0;
  const d2 = text.charCodeAt(i + 5) - DIGIT_0;
  if (m1 < 0 || m1 > 9 || m2 < 0 || m2 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return NaN;
  const month = m1 * 10 + m2;
  const day = d1 * 10 + d2;
  dateEnd = i + 6;
  dateYear = year;
  dateMonth = month;
  dateDay = day;
  const key = (year * 100 + month) * 100 + day;
  if (key === lastDateKey) return lastDateDays;
  if (month < 1 || month > 12 || day < 1 || day > 31) return NaN;
  lastDateKey = key;
  lastDateDays = daysFromCivil(year, month, day);
  return lastDateDays;
}

function isBcText(text: string, i: number, end: number): boolean {
  return end - i === 3 && text.charCodeAt(i) === 0x20 && text.charCodeAt(i + 1) === 0x42 && text.charCodeAt(i + 2) === 0x43;
}


function infinityText(text: string, start: number, end: number): number {
  const length = end - start;
  if (length === 8 && text.charCodeAt(start) === 0x69) return Infinity; // infinityText
  if (length === 9 && text.charCodeAt(start) === 0x2d && text.charCodeAt(start + 1) === 0x69) return -Infinity;
  return NaN;
}

function dateFromText(text: string, start: number, end: number): number {
  const days = parseDatePartText(text, start, end);
  if (days !== days) return infinityText(text, start, end);
  if (dateEnd === end) return days;
  if (isBcText(text, dateEnd, end)) return bcDays();
  return NaN;
}

function twoDigitsText(text: string, i: number): number {
  const a = text.charCodeAt(i) - DIGIT_0;
  const b = text.charCodeAt(i + 1) - DIGIT_0;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/**
 * `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]` → UTC milliseconds. No zone (timestamp without time
 * zone) is read as UTC. Microseconds are truncated to milliseconds. `infinity` → ±Infinity.
 */
function timestampFromText(text: string, start: number, end: number): number {
  const days = parseDatePartText(text, start, end);
  if (days !== days) return infinityText(text, start, end);
  let i = dateEnd;
  if (i + 9 > end || text.charCodeAt(i) !== 0x20 || text.charCodeAt(i + 3) !== 0x3a || text.charCodeAt(i + 6) !== 0x3a) return NaN;
  const hours = twoDigitsText(text, i + 1);
  const minutes = twoDigitsText(text, i + 4);
  const seconds = twoDigitsText(text, i + 7);
  if (hours < 0 || minutes < 0 || seconds < 0) return NaN;
  let ms = hours * 3_600_000 + minutes * 60_000 + seconds * 1000;
  i += 9;
  if (i < end && text.charCodeAt(i) === 0x2e) {
    i++;
    let scale = 100;
    for (; i < end; i++) {
      const digit = text.charCodeAt(i) - DIGIT_0;
      if (digit < 0 || digit > 9) break;
      ms += digit * scale;
      scale /= 10;
    }
    ms = Math.floor(ms);
  }
  if (i < end) {
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) {
      const offsetHours = twoDigitsText(text, i + 1);
      if (offsetHours < 0) return NaN;
      let offset = offsetHours * 3600;
      i += 3;
      if (i < end && text.charCodeAt(i) === 0x3a) {
        const offsetMinutes = twoDigitsText(text, i + 1);
        if (offsetMinutes < 0) return NaN;
        offset += offsetMinutes * 60;
        i += 3;
        if (i < end && text.charCodeAt(i) === 0x3a) {
          const offsetSeconds = twoDigitsText(text, i + 1);
          if (offsetSeconds < 0) return NaN;
          offset += offsetSeconds;
          i += 3;
        }
      }
      ms -= (sign === 0x2b ? offset : -offset) * 1000;
    }
  }
  let dayCount = days;
  if (i !== end) {
    if (!isBcText(text, i, end)) return NaN;
    dayCount = bcDays();
  }
  return dayCount * MS_PER_DAY + ms;
}

/** `YYYY-MM-DD` (or with ` BC`) → days since 1970-01-01; ±Infinity for `infinity`; NaN otherwise. */
export function parsePgDate(value: string): number {
  return dateFromText(value, 0, value.length);
}

/** A timestamp or timestamptz in ISO DateStyle → UTC milliseconds, ±Infinity, or NaN. */
export function parsePgTimestamp(value: string): number {
  return timestampFromText(value, 0, value.length);
}

export function parsePgDateBytes(buffer: Uint8Array, start: number, end: number): number {
  return dateFromBytes(buffer, start, end);
}

export function parsePgTimestampBytes(buffer: Uint8Array, start: number, end: number): number {
  return timestampFromBytes(buffer, start, end);
}

const BACKSLASH = 0x5c;

/**
 * Undoes COPY text-format escaping in `buffer[start, end)`: `\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v`,
 * octal `\NNN` and hex `\xHH`; any other escaped character is itself. Returns the bytes, unescaped.
 */
export function unescapeCopyText(buffer: Uint8Array, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let length = 0;
  for (let i = start; i < end; i++) {
    const byte = buffer[i];
    if (byte !== BACKSLASH || i + 1 >= end) {
      out[length++] = byte;
      continue;
    }
    const next = buffer[++i];
    switch (next) {
      case 0x74: out[length++] = 0x09; break; // t
      case 0x6e: out[length++] = 0x0a; break; // n
      case 0x72: out[length++] = 0x0d; break; // r
      case 0x62: out[length++] = 0x08; break; // b
      case 0x66: out[length++] = 0x0c; break; // f
      case 0x76: out[length++] = 0x0b; break; // v
      case 0x78: { // xHH
        let value = 0;
        let digits = 0;
        while (digits < 2 && i + 1 < end) {
          const hex = hexValue(buffer[i + 1]);
          if (hex < 0) break;
          value = value * 16 + hex;
          i++;
          digits++;
        }
        out[length++] = digits === 0 ? 0x78 : value;
        break;
      }
      default:
        if (next >= 0x30 && next <= 0x37) {
          let value = next - 0x30;
          for (let digits = 1; digits < 3 && i + 1 < end && buffer[i + 1] >= 0x30 && buffer[i + 1] <= 0x37; digits++) {
            value = value * 8 + buffer[++i] - 0x30;
          }
          out[length++] = value & 0xff;
        } else out[length++] = next;
    }
  }
  return out.subarray(0, length);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
