/**
 * One value as CSV or JSON text, written into a byte buffer at an offset (which must have room: see
 * each function), returning the offset after it. No string is made for numbers, dates, timestamps or
 * plain-ASCII strings. The row writers (connectors/files) call these; the generated one carries copies
 * of their short cases.
 */
import { civilFromDays } from './civil.ts';

/** How values become text: CSV fields or JSON values. */
export interface TextStyle {
  json: boolean;
  /** CSV: the delimiter byte (a string containing it is quoted). */
  delimiter: number;
  /** CSV: the sink's quoting of a string that may need it (the slow path, and the rule). */
  quote: (text: string) => string;
  /** CSV: text starting as a spreadsheet formula goes through `quote`, which prefixes it (toCsv's `escapeFormulas`). */
  escapeFormulas?: boolean;
}

/**
 * Whether a CSV cell starting with this character is read as a formula by spreadsheets: `=`, `+`, `-`,
 * `@`, tab and CR, the characters csv-stringify's `escape_formulas` and OWASP's advice on CSV injection
 * name, and the full-width `＝＋－＠` that some spreadsheets take for them.
 */
export function startsFormula(code: number): boolean {
  return code === 0x3d || code === 0x2b || code === 0x2d || code === 0x40 || code === 0x09 || code === 0x0d || code === 0xff1d || code === 0xff0b || code === 0xff0d || code === 0xff20;
}

const DIGIT_0 = 0x30;
const MINUS = 0x2d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const utf8Write = (Buffer.prototype as unknown as { utf8Write: (this: Buffer, text: string, offset: number, length: number) => number }).utf8Write;

/** `null` for JSON, nothing for CSV. */
export function writeNull(bytes: Buffer, at: number, json: boolean): number {
  if (!json) return at;
  bytes[at] = 0x6e;
  bytes[at + 1] = 0x75;
  bytes[at + 2] = 0x6c;
  bytes[at + 3] = 0x6c;
  return at + 4;
}

export function writeLatin1(bytes: Buffer, at: number, text: string): number {
  for (let k = 0; k < text.length; k++) bytes[at++] = text.charCodeAt(k);
  return at;
}

/** A non-negative int32 as exactly `width` digits, zero-padded. */
export function writeDigits(bytes: Buffer, at: number, value: number, width: number): number {
  let position = at + width;
  let rest = value | 0;
  for (let k = 0; k < width; k++) {
    const quotient = (rest / 10) | 0;
    bytes[--position] = DIGIT_0 + (rest - quotient * 10);
    rest = quotient;
  }
  return at + width;
}

export function writeInt32(bytes: Buffer, at: number, value: number): number {
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
export function writeNumber(bytes: Buffer, at: number, value: number, json: boolean): number {
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
export function writeCivilDate(bytes: Buffer, at: number, days: number): boolean {
  const date = civilFromDays(days);
  const year = Math.floor(date / 512);
  const rest = date - year * 512;
  if (year < 0 || year > 9999) return false;
  writeDigits(bytes, at, year, 4);
  bytes[at + 4] = MINUS;
  writeDigits(bytes, at + 5, rest >> 5, 2);
  bytes[at + 7] = MINUS;
  writeDigits(bytes, at + 8, rest & 31, 2);
  return true;
}

/** CSV: ASCII characters `\s` matches (a non-ASCII first or last character takes the `quote` path anyway). */
function isAsciiSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** A JSON string: plain ASCII without `"`, `\` or control characters copied, the rest through `JSON.stringify`. Needs room for 6 bytes per character + 2. */
export function writeJsonString(bytes: Buffer, at: number, value: string): number {
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
export function writeCsvString(bytes: Buffer, at: number, value: string, style: TextStyle): number {
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
  if (k < size || (style.escapeFormulas === true && size > 0 && startsFormula(value.charCodeAt(0)))) {
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

/** A float64 as `String(value)` writes it: the generated writer's compact form (wide rows) of the case it otherwise has in line, and the interpreted writer's. */
export function writeFloat64(bytes: Buffer, at: number, value: number, json: boolean): number {
  return (value | 0) === value ? writeInt32(bytes, at, value | 0) : writeNumber(bytes, at, value, json);
}

/** ISO 8601 `YYYY-MM-DDTHH:MM:SS.sssZ` (as `toISOString`) of `ms`, quoted for JSON: the generated writer's compact form, and the interpreted writer's. Needs 30 bytes. */
export function writeTimestamp(bytes: Buffer, at: number, ms: number, json: boolean): number {
  if (json) bytes[at++] = QUOTE;
  if (!(ms >= -62_167_219_200_000 && ms < 253_402_300_800_000) || !Number.isInteger(ms)) {
    // Years outside 0000-9999 (and NaN, which throws as toISOString does).
    at = writeLatin1(bytes, at, new Date(ms).toISOString());
  } else {
    const days = Math.floor(ms / 86_400_000);
    writeCivilDate(bytes, at, days);
    at = writeTimeOfDay(bytes, at, ms - days * 86_400_000);
  }
  if (json) bytes[at++] = QUOTE;
  return at;
}

/** `THH:MM:SS.sssZ` of `rest` ms into the day, after a 10-byte date at `at`; returns the end of the timestamp. */
export function writeTimeOfDay(bytes: Buffer, at: number, rest: number): number {
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  bytes[at + 10] = 0x54;
  writeDigits(bytes, at + 11, hours, 2);
  bytes[at + 13] = 0x3a;
  writeDigits(bytes, at + 14, minutes, 2);
  bytes[at + 16] = 0x3a;
  writeDigits(bytes, at + 17, seconds, 2);
  bytes[at + 19] = 0x2e;
  writeDigits(bytes, at + 20, rest - seconds * 1000, 3);
  bytes[at + 23] = 0x5a;
  return at + 24;
}
