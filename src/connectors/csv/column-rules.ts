/**
 * What the fast CSV engine's byte loops (the column loops of column-loops.ts and the record loop of
 * fused.ts) share about a column: which values they may settle from bytes, and the per-run state they
 * keep for it (byte dictionaries, accepted timestamp layouts), and how a field's bytes become text.
 */
import type { ColumnBuilder } from '../../batch/builder.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { INTEGER_RANGE, isIntegerDType } from '../../batch/dtype.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { ByteDictionary } from '../../codec/byte-dictionary.ts';
import { collapseQuotes, decodeLatin1, decodeUtf8 } from '../../codec/byte-text.ts';

/** `Date.UTC` maps years 0-99 to 1900-1999; the text path follows it, so the byte path leaves them to it. */
export const YEAR_100_MS = -59_011_459_200_000;
export const YEAR_100_DAYS = YEAR_100_MS / 86_400_000;

/** The byte keys of each run's dictionaries (keyed by the plan's Dictionary, shared across files). */
const byteDictionaries = new WeakMap<Dictionary, ByteDictionary>();

export function byteDictionaryOf(dictionary: Dictionary): ByteDictionary {
  let bytes = byteDictionaries.get(dictionary);
  if (bytes === undefined) {
    // It grows as values come: sized for 1,024 up front it took 40 KB per dictionary column, 130 MB for a file of 3,000 of them.
    bytes = new ByteDictionary(Math.min(dictionary.cap, 64));
    byteDictionaries.set(dictionary, bytes);
  }
  return bytes;
}

/**
 * Whether the byte loops may settle this column's values at all. Anything zod or a default decides is
 * the row path's, as are patterns on anything but dates and timestamps, enums of plain strings, and a
 * builder whose dtype moved away from the plan's (a widening in this batch).
 */
export function byteLoopsApply(plan: ColumnPlan, builder: ColumnBuilder): boolean {
  if (plan.zod !== undefined || plan.storesZodOutput) return false;
  if (plan.pattern !== undefined && plan.dtype !== 'timestamp' && plan.dtype !== 'date') return false;
  if (plan.dtype === 'string' && plan.enumValues !== undefined) return false;
  if (plan.dtype === 'dictionary' && plan.dictionary === undefined) return false;
  return builder.dtype === plan.dtype;
}

/** An empty field is null here only when the column is nullable and has no default. */
export function nullsAllowed(plan: ColumnPlan): boolean {
  return plan.nullable && plan.defaultValue === undefined;
}

/** The range a numeric column's byte loops accept; anything outside goes to the row path. */
export interface NumericRange {
  integer: boolean;
  lo: number;
  hi: number;
  loStrict: boolean;
  hiStrict: boolean;
}

/** Per plan, its range for the dtype it had then: the column loops ask once per scanner step. */
const ranges = new WeakMap<ColumnPlan, { dtype: string; range: NumericRange }>();

export function numericRange(plan: ColumnPlan): NumericRange {
  const known = ranges.get(plan);
  if (known !== undefined && known.dtype === plan.dtype) return known.range;
  const range = computeRange(plan);
  ranges.set(plan, { dtype: plan.dtype, range });
  return range;
}

function computeRange(plan: ColumnPlan): NumericRange {
  const dtype = plan.dtype;
  let lo = -Infinity;
  let hi = Infinity;
  let loStrict = false;
  let hiStrict = false;
  const bounds = plan.bounds;
  if (bounds !== undefined) {
    if (bounds.min !== undefined) {
      lo = bounds.min;
      loStrict = bounds.minInclusive === false;
    }
    if (bounds.max !== undefined) {
      hi = bounds.max;
      hiStrict = bounds.maxInclusive === false;
    }
  }
  if (plan.origin === 'inferred' && isIntegerDType(dtype)) {
    // Inferred columns widen instead of rejecting: leave values outside the dtype to the row path.
    const [min, max] = INTEGER_RANGE[dtype];
    if (min > lo || (min === lo && loStrict)) [lo, loStrict] = [min, false];
    if (max < hi || (max === hi && hiStrict)) [hi, hiStrict] = [max, false];
  }
  return { integer: bounds?.integer === true || isIntegerDType(dtype), lo, hi, loStrict, hiStrict };
}

export { setNull } from '../../batch/builder.ts';

/** Undo what a byte loop wrote past the committed rows: the row path appends there next. */
export function rollBack(builder: ColumnBuilder, from: number, to: number): void {
  const validity = builder.validity;
  if (validity !== null) for (let i = from; i < to; i++) validity[i >>> 3] |= 1 << (i & 7);
  if (builder.strings !== null) for (let i = from; i < to; i++) builder.strings[i] = undefined as unknown as string;
  else if (builder.dtype !== 'string') builder.values.fill(0, from, Math.min(to, builder.values.length));
}

/** The text of a field's bytes, doubled quotes collapsed when `escaped`. */
export class FieldText {
  private scratch = new Uint8Array(4096);
  private readonly latin1: boolean;
  private readonly quote: number;
  constructor(
    latin1: boolean,
    quote: number,
  ) {
    this.latin1 = latin1;
    this.quote = quote;
  }

  of(buf: Uint8Array, start: number, end: number, escaped: boolean): string {
    let source = buf;
    if (escaped) {
      if (this.scratch.length < end - start) this.scratch = new Uint8Array(end - start);
      end = collapseQuotes(buf, start, end, this.scratch, this.quote);
      start = 0;
      source = this.scratch;
    }
    return this.latin1 ? decodeLatin1(source, start, end) : decodeUtf8(source, start, end);
  }
}

/**
 * zod's ISO date and date-time formats come with a regex the text must match (`plan.pattern`). Running
 * it per value needs a string per value. The regexes check the layout of the text (which characters,
 * how many digits) and the ranges of month, day (leap years included), hour, minute, second and offset,
 * and parseDate/parseTimestamp check those same ranges. So once the regex accepted one value, any value
 * with the same layout (digits as 0, other bytes as they are) that the byte parser accepts matches too.
 * Files hold one or two layouts per column: the regex runs once per layout, not per value.
 */
export class PatternShape {
  private readonly known: Uint8Array[] = [];
  /**
   * Whether the pattern accepts `YYYY-MM-DDTHH:MM:SSZ`. scanTimestamp parses a 20-byte value ending in Z
   * with a T at 10 only when it has exactly that layout (digits, dashes, colons checked), so for such a
   * value this flag is the layout check, without comparing its bytes.
   */
  readonly utcSeconds: boolean;
  private readonly pattern: RegExp;
  constructor(pattern: RegExp) {
    this.pattern = pattern;
    this.utcSeconds = pattern.test('2000-01-01T00:00:00Z');
  }

  accepts(buf: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    for (const known of this.known) {
      if (known.length !== length) continue;
      let k = 0;
      for (; k < length; k++) {
        const c = buf[start + k];
        if ((c >= 0x30 && c <= 0x39 ? 0x30 : c) !== known[k]) break;
      }
      if (k === length) return true;
    }
    if (this.known.length >= 8 || !this.pattern.test(decodeLatin1(buf, start, end))) return false;
    const layout = new Uint8Array(length);
    for (let k = 0; k < length; k++) {
      const c = buf[start + k];
      layout[k] = c >= 0x30 && c <= 0x39 ? 0x30 : c;
    }
    this.known.push(layout);
    return true;
  }
}

const shapes = new WeakMap<RegExp, PatternShape>();

export function shapeOf(plan: ColumnPlan): PatternShape | null {
  const pattern = plan.pattern;
  if (pattern === undefined) return null;
  let shape = shapes.get(pattern);
  if (shape === undefined) {
    shape = new PatternShape(pattern);
    shapes.set(pattern, shape);
  }
  return shape;
}
