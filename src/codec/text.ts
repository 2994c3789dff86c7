/** Parsing typed values from text: the path for csv-parse records, NDJSON strings and inference. */
import { daysInMonth } from './civil.ts';

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATETIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

const TRUE_WORDS = new Set(['true', 't', '1', 'yes', 'y']);
const FALSE_WORDS = new Set(['false', 'f', '0', 'no', 'n']);

/** The integer in `text`, or NaN. No spaces, no hex, no exponent. */
export function parseIntegerText(text: string): number {
  return INTEGER.test(text) ? Number(text) : Number.NaN;
}

/** The decimal number in `text`, or NaN. Plain decimal or exponent notation only. */
export function parseNumberText(text: string): number {
  return DECIMAL.test(text) ? Number(text) : Number.NaN;
}

/** 1, 0, or -1 when the text is not a boolean word. */
export function parseBooleanText(text: string): number {
  const lower = text.length <= 5 ? text.toLowerCase() : '';
  if (TRUE_WORDS.has(lower)) return 1;
  if (FALSE_WORDS.has(lower)) return 0;
  return -1;
}

const MS_PER_DAY = 86_400_000;

/** Days since the Unix epoch for `YYYY-MM-DD`, or NaN. */
export function parseDateText(text: string): number {
  const match = ISO_DATE.exec(text);
  if (match === null) return Number.NaN;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  return Date.UTC(year, month - 1, day) / MS_PER_DAY;
}

/**
 * Milliseconds since the epoch for an ISO 8601 date or date-time, or NaN. A date-time without a zone
 * is UTC (not the machine's local time, as `Date.parse` would take it): runs must not depend on TZ.
 */
export function parseTimestampText(text: string): number {
  const date = parseDateText(text);
  if (!Number.isNaN(date)) return date * MS_PER_DAY;
  const match = ISO_DATETIME.exec(text);
  if (match === null) return Number.NaN;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const ms = fraction === undefined ? 0 : Math.floor(Number(`0${fraction}`) * 1000 + 1e-6);
  let time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetHours = Number(digits.slice(0, 2));
    const offsetMinutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
    // An offset is at most 23:59 either way (ISO 8601, RFC 3339, zod's own check), as the byte parser
    // holds it: `+25:00` or `+02:60` is a typo or garbage, not a time to shift by a day.
    if (offsetHours > 23 || offsetMinutes > 59) return Number.NaN;
    time -= sign * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return time;
}

export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** `YYYY-MM-DD`; outside years 0000-9999, `±YYYYYY-MM-DD` as toISOString writes the year. */
export function formatDate(days: number): string {
  const iso = new Date(days * MS_PER_DAY).toISOString();
  return iso.slice(0, iso.indexOf('T'));
}
