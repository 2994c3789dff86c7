import { Batch, type BatchOrigin, columnRecord } from '../batch/batch.ts';
import { ColumnBuilder, widenBuilder } from '../batch/builder.ts';
import type { Column } from '../batch/column.ts';
import { Dictionary } from '../batch/dictionary.ts';
import { type DType, INTEGER_RANGE, isIntegerDType, smallestIntegerDType } from '../batch/dtype.ts';
import type { ErrorLocation } from '../core/errors.ts';
import type { RunWarning } from '../core/warnings.ts';
import type { ColumnPlan } from './plan.ts';
import {
  formatDate,
  formatTimestamp,
  parseBooleanText,
  parseDateText,
  parseIntegerText,
  parseNumberText,
  parseTimestampText,
} from '../codec/text.ts';

/** A value that broke its column's rule. */
export interface Violation {
  column: string;
  /** 0-based position of the column in the plan. */
  position: number;
  value: string;
  rule: string;
  message: string;
}

/**
 * The rows a source may still take (`--limit`), shared by every decoder of one read. A row takes one
 * whether it is appended or rejected, so the limit counts rows read from the input; a decoder is full
 * once none is left, and the reader stops there, before the next row is decoded, rejected or counted.
 */
export class RowLimit {
  left: number;
  constructor(left = Infinity) {
    this.left = left;
  }
}

export interface DecoderOptions {
  /** Widenings of inferred columns, as warnings for the run summary. */
  warn?: (warning: RunWarning) => void;
  /** The file the rows come from: where the warnings point. */
  file?: string;
  /** Shared with the source's other decoders: see {@link RowLimit}. */
  limit?: RowLimit;
  /**
   * `""` is a null (CSV, where an empty field is how a null is written); JSON sources pass false: there
   * only `null` or a missing key is null, and `""` is an empty string. @default true
   */
  emptyIsNull?: boolean;
}

/** The warning for an inferred column that widened: composed here only, for every source. */
export function columnWidened(column: string, from: DType, to: DType, value: string, location?: ErrorLocation): RunWarning {
  const where = location?.file === undefined ? '' : ` (${location.file}${location.line ? `:${location.line}` : ''})`;
  return {
    code: 'COLUMN_WIDENED',
    message: `column ${JSON.stringify(column)} widened from ${from} to ${to} at value ${JSON.stringify(value)}${where}`,
    column,
    from,
    to,
    value,
    ...(location === undefined ? {} : { location }),
  };
}

const NOT_PARSED = Symbol('not parsed');
type Parsed = number | string | null | typeof NOT_PARSED;

/**
 * Turns rows of text (csv-parse records) or JSON values (NDJSON) into typed columns, following a plan.
 * A row is parsed and checked whole before any of it is appended, so a rejected row leaves nothing behind.
 */
export class RowDecoder {
  /**
   * The builders and line numbers of the batch being filled. Public for the fast CSV reader, which
   * writes values it has parsed and checked from bytes straight into them and then calls
   * {@link commitRows}; any value it cannot settle goes through {@link append}, so the rules stay here.
   */
  builders: ColumnBuilder[] = [];
  private readonly scratch: Parsed[];
  lines: Int32Array;
  /** Source line of the row being appended, for widening warnings. */
  private line = 0;
  length = 0;
  private readonly limit: RowLimit;
  private readonly emptyIsNull: boolean;

  readonly plans: ColumnPlan[];
  readonly capacity: number;
  private readonly options: DecoderOptions;
  constructor(
    plans: ColumnPlan[],
    capacity: number,
    options: DecoderOptions = {},
  ) {
    this.plans = plans;
    this.capacity = capacity;
    this.options = options;
    this.scratch = new Array<Parsed>(plans.length);
    this.lines = new Int32Array(capacity);
    this.limit = options.limit ?? new RowLimit();
    this.emptyIsNull = options.emptyIsNull ?? true;
    this.reset();
  }

  /** Rows the batch may still take: its free capacity, or fewer when the source's limit is nearer. */
  get room(): number {
    return Math.min(this.capacity - this.length, this.limit.left);
  }

  get full(): boolean {
    return this.room <= 0;
  }

  private reset(): void {
    this.builders = this.plans.map((plan) => new ColumnBuilder(plan.dtype, this.capacity, plan.dictionary));
    this.lines = new Int32Array(this.capacity);
    this.length = 0;
  }

  /**
   * Appends one row given as one value per plan column (text, JSON value, or null for a missing or
   * empty field). Returns the violation instead when a value breaks its rule; nothing is appended then.
   */
  append(values: readonly unknown[], line: number): Violation | null {
    this.line = line;
    this.limit.left--;
    const plans = this.plans;
    for (let c = 0; c < plans.length; c++) {
      const parsed = this.parse(c, values[c]);
      if (typeof parsed === 'object' && parsed !== null) return parsed;
      this.scratch[c] = parsed;
    }
    for (let c = 0; c < plans.length; c++) {
      const value = this.scratch[c];
      const builder = this.builders[c];
      if (value === null) builder.appendNull();
      else if (typeof value === 'number') builder.appendNumber(value);
      else builder.appendString(value as string);
      if (builder.overflowed && plans[c].dtype === 'dictionary') {
        this.warnWidened(plans[c].name, 'dictionary', 'string', `${plans[c].dictionary!.cap}+ distinct values`);
        plans[c].dtype = 'string';
        plans[c].dictionary = undefined;
      }
    }
    this.lines[this.length++] = line;
    return null;
  }

  /** Counts `count` rows written directly into the builders and `lines` (at index `length` onwards) as appended. */
  commitRows(count: number): void {
    for (const builder of this.builders) builder.length += count;
    this.length += count;
    this.limit.left -= count;
  }

  /** The batch of the rows appended so far; the decoder starts a new one. */
  flush(origin: BatchOrigin): Batch {
    const columns = columnRecord();
    this.plans.forEach((plan, c) => {
      columns[plan.name] = this.builders[c].finish();
    });
    const lines = this.length === this.capacity ? this.lines : this.lines.slice(0, this.length);
    const batch = new Batch(columns, this.length, origin, lines);
    this.reset();
    return batch;
  }

  private parse(c: number, raw: unknown): Parsed | Violation {
    const plan = this.plans[c];
    if (raw === null || raw === undefined || (raw === '' && this.emptyIsNull)) {
      if (raw === '' && (plan.dtype === 'string' || plan.dtype === 'dictionary') && !plan.nullable) return this.check(c, '', '');
      if (plan.defaultValue !== undefined) return this.parse(c, plan.defaultValue);
      if (plan.nullable) return null;
      if (plan.zod !== undefined && plan.storesZodOutput) return this.viaZod(c, raw, undefined);
      // The value is shown as it was: "" (not a made-up "(empty)" that reads like text from the file).
      return violation(plan, c, '', 'a value (the column is not nullable)');
    }
    if (plan.storesZodOutput) return this.viaZod(c, raw, undefined);
    const text = typeof raw === 'string' ? raw : undefined;
    if (plan.pattern !== undefined && text !== undefined && !plan.pattern.test(text)) return violation(plan, c, text, plan.rule);
    let value: number | string;
    switch (plan.dtype) {
      case 'string':
      case 'dictionary':
        value = text ?? (typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : JSON.stringify(raw));
        if (plan.enumValues !== undefined && plan.dictionary!.lookup(value) < 0) {
          return violation(plan, c, value, plan.rule);
        }
        return this.check(c, value, raw);
      case 'bool': {
        if (typeof raw === 'boolean') return raw ? 1 : 0;
        const b = text === undefined ? -1 : parseBooleanText(text);
        if (b < 0) return this.mismatch(c, raw);
        return b;
      }
      case 'timestamp': {
        const ms = text !== undefined ? parseTimestampText(text) : raw instanceof Date ? raw.getTime() : Number.NaN;
        if (Number.isNaN(ms)) return this.mismatch(c, raw);
        value = ms;
        break;
      }
      case 'date': {
        const days = text !== undefined ? parseDateText(text) : Number.NaN;
        if (Number.isNaN(days)) return this.mismatch(c, raw);
        value = days;
        break;
      }
      default: {
        let n: number;
        if (typeof raw === 'number') n = raw;
        else if (text !== undefined && (plan.origin === 'inferred' || plan.coerce || true)) {
          n = plan.bounds?.integer || isIntegerDType(plan.dtype) ? parseIntegerText(text) : parseNumberText(text);
          if (Number.isNaN(n) && isIntegerDType(plan.dtype) && plan.origin === 'inferred') n = parseNumberText(text);
        } else n = Number.NaN;
        if (Number.isNaN(n)) return this.mismatch(c, raw);
        const bounded = this.checkNumber(c, n, raw);
        if (bounded !== null) return bounded;
        value = n;
      }
    }
    return this.check(c, value, raw);
  }

  private checkNumber(c: number, n: number, raw: unknown): Violation | null {
    const plan = this.plans[c];
    const bounds = plan.bounds;
    if (bounds !== undefined) {
      if (bounds.integer && !Number.isInteger(n)) return violation(plan, c, String(raw), plan.rule);
      if (bounds.min !== undefined && (bounds.minInclusive === false ? n <= bounds.min : n < bounds.min)) {
        return violation(plan, c, String(raw), plan.rule);
      }
      if (bounds.max !== undefined && (bounds.maxInclusive === false ? n >= bounds.max : n > bounds.max)) {
        return violation(plan, c, String(raw), plan.rule);
      }
    }
    if (plan.origin !== 'inferred') return null;
    // Inferred columns widen instead of rejecting.
    if (isIntegerDType(plan.dtype)) {
      const [lo, hi] = INTEGER_RANGE[plan.dtype];
      if (!Number.isInteger(n)) this.widen(c, 'float64', String(raw));
      else if (n < lo || n > hi) this.widen(c, smallestIntegerDType(Math.min(lo, n), Math.max(hi, n)), String(raw));
    }
    return null;
  }

  private mismatch(c: number, raw: unknown): Parsed | Violation {
    const plan = this.plans[c];
    if (plan.origin === 'inferred') {
      this.widen(c, 'string', String(raw));
      return typeof raw === 'string' ? raw : String(raw);
    }
    return violation(plan, c, typeof raw === 'string' ? raw : JSON.stringify(raw), plan.rule);
  }

  private widen(c: number, dtype: DType, value: string): void {
    const plan = this.plans[c];
    const from = plan.dtype;
    const format =
      from === 'timestamp' ? formatTimestamp : from === 'date' ? formatDate : from === 'bool' ? (x: number) => String(x === 1) : String;
    widenBuilder(this.builders[c], dtype, format);
    plan.dtype = dtype;
    plan.dictionary = undefined;
    plan.rule = dtype;
    this.warnWidened(plan.name, from, dtype, value);
  }

  private warnWidened(column: string, from: DType, to: DType, value: string): void {
    const { warn, file } = this.options;
    if (warn === undefined) return;
    warn(columnWidened(column, from, to, value, file === undefined ? undefined : { file, line: this.line || undefined }));
  }

  private check(c: number, value: number | string, raw: unknown): Parsed | Violation {
    const plan = this.plans[c];
    if (typeof value === 'string') {
      if (plan.minLength !== undefined && value.length < plan.minLength) return violation(plan, c, value, plan.rule);
      if (plan.maxLength !== undefined && value.length > plan.maxLength) return violation(plan, c, value, plan.rule);
    }
    if (plan.zod !== undefined) return this.viaZod(c, raw, value);
    return value;
  }

  /** The slow path: zod checks (and, for transforms, produces) the value. */
  private viaZod(c: number, raw: unknown, parsed: number | string | undefined): Parsed | Violation {
    const plan = this.plans[c];
    const input = parsed === undefined ? raw : jsValue(plan.dtype, parsed, raw);
    const result = plan.zod!.safeParse(input);
    if (!result.success) {
      const message = result.error?.issues.map((issue) => issue.message).join('; ') ?? 'invalid';
      return violation(plan, c, typeof raw === 'string' ? raw : JSON.stringify(raw), message);
    }
    if (!plan.storesZodOutput) return parsed ?? null;
    return this.storeOutput(c, result.data);
  }

  private storeOutput(c: number, output: unknown): Parsed | Violation {
    const plan = this.plans[c];
    if (output === null || output === undefined) {
      plan.nullable = true;
      return null;
    }
    // The first output value of a transformed column picks its dtype for the run.
    if (plan.rule.startsWith('zod ') && this.builders[c].length === 0 && !plan.nullable && plan.dtype === 'string') {
      const dtype: DType =
        typeof output === 'number' ? 'float64' : typeof output === 'boolean' ? 'bool' : output instanceof Date ? 'timestamp' : 'string';
      if (dtype !== 'string') {
        plan.dtype = dtype;
        this.builders[c] = new ColumnBuilder(dtype, this.capacity);
      }
      plan.rule = `${plan.rule} → ${dtype}`;
    }
    switch (plan.dtype) {
      case 'float64':
        if (typeof output === 'number') return output;
        break;
      case 'bool':
        if (typeof output === 'boolean') return output ? 1 : 0;
        break;
      case 'timestamp':
        if (output instanceof Date) return output.getTime();
        break;
      default:
        return typeof output === 'string' ? output : JSON.stringify(output);
    }
    return violation(plan, c, JSON.stringify(output), `zod output of type ${plan.dtype} like the column's first value`);
  }
}

function jsValue(dtype: DType, parsed: number | string, raw: unknown): unknown {
  if (dtype === 'bool') return parsed === 1;
  if (dtype === 'timestamp') return typeof raw === 'string' && raw.length > 0 ? raw : new Date(parsed as number);
  if (dtype === 'date') return raw;
  return parsed;
}

function violation(plan: ColumnPlan, position: number, value: string, rule: string): Violation {
  return {
    column: plan.name,
    position,
    value,
    rule,
    message: `column ${JSON.stringify(plan.name)}: ${JSON.stringify(value)} is not valid (expected ${rule || plan.dtype})`,
  };
}

/** A fresh copy of plans, so one run's widening and dictionaries never leak into another's. */
export function clonePlans(plans: readonly ColumnPlan[]): ColumnPlan[] {
  return plans.map((plan) => ({
    ...plan,
    dictionary:
      plan.dictionary === undefined ? undefined : new Dictionary(plan.dictionary.cap, plan.enumValues ?? []),
  }));
}

/**
 * A batch of no rows with the plan's columns. A source that found no rows at all yields one, so that
 * sinks still learn the columns (a CSV output gets its header line, a created table its columns).
 */
export function emptyBatch(plans: ColumnPlan[], origin: BatchOrigin = {}): Batch {
  return new RowDecoder(plans, 1).flush(origin);
}
