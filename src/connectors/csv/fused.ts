/**
 * The fast engine's first try on every record: one pass over a record's bytes that finds its fields and
 * parses each into its column at once, with no field table in between. It takes the records most files
 * are made of (fields unquoted or simply quoted, values the column loops would settle) and stops at the
 * first record it does not take; that record goes through the scanner, the column loops
 * (column-loops.ts) and the row path, which own every other case (empty lines, lone CRs, invalid
 * quotes, field counts, violations, new dictionary entries, widening). So it adds speed and no
 * behaviour: a record taken here gives the values the column loops would give, and anything else is
 * left to them whole.
 *
 * A record is all or nothing: a field it cannot settle undoes the record's earlier fields. Values go
 * straight into the builders. The loop itself is generated per record layout (record-loop.ts); this
 * class keeps the run's state and settles what the loop hands to it (quoted fields, strings). With code
 * generation off (SLUICE_JITLESS=1, or a host that refuses it) prepare() says no and the scanner path
 * reads every record, with the same results.
 */
import type { ColumnBuilder } from '../../batch/builder.ts';
import { codeGenerationEnabled } from '../../codegen/switch.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ByteDictionary, StringCache } from '../../codec/byte-dictionary.ts';
import { parseBoolean, PARSED, parseInteger, scanFloat64 } from '../../codec/byte-numbers.ts';
import { parseDate, scanTimestamp } from '../../codec/byte-times.ts';
import {
  BOOLEAN,
  DATE,
  DECIMAL,
  DICTIONARY,
  type FieldLayout,
  INTEGER,
  type RecordLayout,
  type RecordLoop,
  type RecordLoopHost,
  recordLoopFor,
  SKIP,
  STRING,
  TIMESTAMP,
} from './record-loop.ts';
import {
  byteDictionaryOf,
  byteLoopsApply,
  type FieldText,
  nullsAllowed,
  numericRange,
  type PatternShape,
  setNull,
  shapeOf,
  YEAR_100_DAYS,
  YEAR_100_MS,
} from './column-rules.ts';

/** Rows per run at most: between runs the reader checks for an abort and whether the batch is full. */
export const FUSED_BLOCK_ROWS = 1024;
/**
 * Widest record the generated loop takes. Up to 32 fields it is one function; wider records are read by
 * functions of 24 fields each (record-loop.ts), as one function that large is optimized poorly. Against
 * the scanner path, on all-number files with a schema: 1.4x its speed at 32 fields, 1.2x at 48 and 64,
 * even at 100, 0.95x at 300. Wider files go to the scanner and the column loops.
 */
export const MAX_FUSED_FIELDS = 80;

const LF = 0x0a;
const CR = 0x0d;
const LETTER_T = 0x54;
const LETTER_Z = 0x5a;

export interface FusedOptions {
  delimiter: number;
  quote: number;
  maxRecordBytes: number;
}

export class FusedRecords implements RecordLoopHost {
  /** Per field of a record: its kind, and the planned column it fills (-1 when skipped). */
  private readonly kinds: Uint8Array;
  private readonly columnOf: Int32Array;
  // Per planned column.
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly loStrict: Uint8Array;
  private readonly hiStrict: Uint8Array;
  private readonly nullable: Uint8Array;
  private readonly minLength: Float64Array;
  private readonly maxLength: Float64Array;
  /** Timestamp columns whose pattern (if any) accepts `YYYY-MM-DDTHH:MM:SSZ`: that layout needs no shape check. */
  private readonly utcSeconds: Uint8Array;
  readonly shapes: (PatternShape | null)[];
  readonly dictionaries: (ByteDictionary | null)[];
  /** 1 for the bytes that end an unquoted field: delimiter, quote, CR, LF. */
  readonly stop = new Uint8Array(256);
  private readonly delimiter: number;
  private readonly quote: number;
  readonly maxRecordBytes: number;
  quotedLines = 0;
  quotedValue = 0;
  segmentLine = 0;
  recordEnd = 0;
  /** The generated loop for the current layout; null until prepare() found one. */
  private loop: RecordLoop | null = null;
  /** Code generation was on when this file's reader was made: without it there is no loop to take records. */
  private generated = codeGenerationEnabled();
  /** What the layout was computed from, per column: prepare() redoes it only when one of these moved. */
  private readonly seenPlanDtypes: string[] = [];
  private readonly seenBuilderDtypes: string[] = [];
  private readonly seenArrays: unknown[] = [];

  /** Where the last run stopped: the first record it did not take, and its line. */
  position = 0;
  line = 1;

  private readonly plans: ColumnPlan[];
  private readonly positions: number[];
  private readonly text: FieldText;
  private readonly strings: StringCache[];
  constructor(
    plans: ColumnPlan[],
    /** Field index of each planned column. */
    positions: number[],
    fieldCount: number,
    options: FusedOptions,
    text: FieldText,
    strings: StringCache[],
  ) {
    this.plans = plans;
    this.positions = positions;
    this.text = text;
    this.strings = strings;
    const columns = plans.length;
    this.kinds = new Uint8Array(fieldCount);
    this.columnOf = new Int32Array(fieldCount).fill(-1);
    for (let c = 0; c < columns; c++) this.columnOf[positions[c]] = c;
    this.lo = new Float64Array(columns);
    this.hi = new Float64Array(columns);
    this.loStrict = new Uint8Array(columns);
    this.hiStrict = new Uint8Array(columns);
    this.nullable = new Uint8Array(columns);
    this.minLength = new Float64Array(columns);
    this.maxLength = new Float64Array(columns);
    this.utcSeconds = new Uint8Array(columns);
    this.shapes = new Array<PatternShape | null>(columns).fill(null);
    this.dictionaries = new Array<ByteDictionary | null>(columns).fill(null);
    this.delimiter = options.delimiter;
    this.quote = options.quote;
    this.maxRecordBytes = options.maxRecordBytes;
    for (const byte of [options.delimiter, options.quote, CR, LF]) this.stop[byte] = 1;
  }

  /**
   * Sets up the kinds for the batch being filled; false when some column's values are never settled
   * from bytes (zod, a default, a widened builder), so every record would stop the loop anyway.
   * Cheap: called once per run, as plans and builders change during a run (dictionary overflow, widening).
   */
  prepare(builders: ColumnBuilder[]): boolean {
    if (!this.generated || this.kinds.length > MAX_FUSED_FIELDS) return false;
    const plans = this.plans;
    if (this.loop !== null && this.unchanged(builders)) return true;
    this.loop = null;
    for (let c = 0; c < plans.length; c++) {
      this.seenPlanDtypes[c] = plans[c].dtype;
      this.seenBuilderDtypes[c] = builders[c].dtype;
      this.seenArrays[c] = builders[c].values.constructor;
    }
    for (let c = 0; c < plans.length; c++) {
      const plan = plans[c];
      if (!byteLoopsApply(plan, builders[c])) return false;
      const field = this.positions[c];
      this.nullable[c] = nullsAllowed(plan) ? 1 : 0;
      switch (plan.dtype) {
        case 'string':
          this.kinds[field] = STRING;
          this.minLength[c] = plan.minLength ?? 0;
          this.maxLength[c] = plan.maxLength ?? Infinity;
          break;
        case 'dictionary':
          this.kinds[field] = DICTIONARY;
          this.dictionaries[c] = byteDictionaryOf(plan.dictionary!);
          break;
        case 'bool':
          this.kinds[field] = BOOLEAN;
          break;
        case 'timestamp':
        case 'date': {
          const shape = shapeOf(plan);
          this.kinds[field] = plan.dtype === 'date' ? DATE : TIMESTAMP;
          this.shapes[c] = shape;
          this.utcSeconds[c] = shape === null || shape.utcSeconds ? 1 : 0;
          break;
        }
        default: {
          const range = numericRange(plan);
          this.kinds[field] = range.integer ? INTEGER : DECIMAL;
          this.lo[c] = range.lo;
          this.hi[c] = range.hi;
          this.loStrict[c] = range.loStrict ? 1 : 0;
          this.hiStrict[c] = range.hiStrict ? 1 : 0;
        }
      }
    }
    this.loop = recordLoopFor(this.layout(builders));
    // Refused by the host after all: the scanner reads the rest of the file.
    if (this.loop === null) this.generated = false;
    return this.loop !== null;
  }

  /** Plans and builders as the last prepare() saw them (a dictionary overflow or a widening changes a dtype). */
  private unchanged(builders: ColumnBuilder[]): boolean {
    const plans = this.plans;
    for (let c = 0; c < plans.length; c++) {
      const builder = builders[c];
      if (plans[c].dtype !== this.seenPlanDtypes[c] || builder.dtype !== this.seenBuilderDtypes[c] || builder.values.constructor !== this.seenArrays[c]) return false;
    }
    return true;
  }

  private layout(builders: ColumnBuilder[]): RecordLayout {
    const fields: FieldLayout[] = [];
    for (let f = 0; f < this.kinds.length; f++) {
      const c = this.columnOf[f];
      const kind = c < 0 ? SKIP : this.kinds[f];
      const numeric = kind === INTEGER || kind === DECIMAL;
      fields.push({
        kind,
        column: c,
        nullable: c >= 0 && this.nullable[c] === 1,
        lo: numeric ? this.lo[c] : -Infinity,
        hi: numeric ? this.hi[c] : Infinity,
        loStrict: numeric && this.loStrict[c] === 1,
        hiStrict: numeric && this.hiStrict[c] === 1,
        utcSeconds: kind === TIMESTAMP && this.utcSeconds[c] === 1,
        shape: (kind === TIMESTAMP || kind === DATE) && this.shapes[c] !== null,
        array: c >= 0 && kind !== STRING ? builders[c].values.constructor.name : '',
      });
    }
    return { delimiter: this.delimiter, quote: this.quote, fields };
  }

  /**
   * Takes records from `buf[position, limit)` into rows `out…` of `builders` (and their lines into
   * `lines`), at most `maxRows` (≤ FUSED_BLOCK_ROWS), stopping at the first record it does not take.
   * `buf[limit - 1]` must be a line feed: every loop then stops at a byte it checks, without a bounds
   * check per byte. `line` is the line `position` is on. Returns the rows taken; {@link position} and
   * {@link line} say where it stopped. The caller commits the rows.
   */
  run(buf: Uint8Array, position: number, limit: number, line: number, builders: ColumnBuilder[], lines: Int32Array, out: number, maxRows: number): number {
    return this.loop!(this, buf, position, limit, line, builders, lines, out, maxRows);
  }

  /** The generated loop is done: where it stopped. */
  finish(position: number, line: number): void {
    this.position = position;
    this.line = line;
  }

  /**
   * The quoted field opening at `i` (field `field` of a record, a skipped one or a column that is not a
   * string): finds its end, counting the line breaks inside into {@link quotedLines}, and settles its value
   * into {@link quotedValue} as the loop would settle it unquoted (a null: setNull, and 0). Returns the
   * index after the closing quote, or -1 when the record must go to the scanner (not closed before
   * `limit`, a value not settled here). The loop stores the value: its stores see one array class each.
   */
  quotedField(buf: Uint8Array, i: number, limit: number, field: number, index: number, builders: ColumnBuilder[]): number {
    const quote = this.quote;
    let lines = 0;
    const start = ++i;
    let escaped = false;
    for (;;) {
      let b = 0;
      while (i < limit && (b = buf[i]) !== quote) {
        if (b === LF || (b === CR && buf[i + 1] !== LF)) lines++;
        i++;
      }
      if (i >= limit) return -1;
      // buf[limit - 1] is a line feed, so the byte after a quote is in the buffer.
      if (buf[i + 1] !== quote) break;
      escaped = true;
      i += 2;
    }
    const end = i++;
    this.quotedLines = lines;
    const c = this.columnOf[field];
    if (c < 0) return i;
    if (start === end) {
      // As in the column loops: `""` is an empty field, null.
      if (this.nullable[c] === 0) return -1;
      setNull(builders[c], index);
      this.quotedValue = 0;
      return i;
    }
    return !escaped && this.quoted(this.kinds[field], c, buf, start, end) ? i : -1;
  }

  /**
   * A quoted value of a column that is not a string (files that quote every field, or every non-number):
   * parsed from the bytes between the quotes by the column loops' own parsers, so it settles exactly
   * what they settle. Off the unquoted fast path, but still no string per value.
   */
  private quoted(kind: number, c: number, buf: Uint8Array, start: number, end: number): boolean {
    let value: number;
    switch (kind) {
      case INTEGER:
        value = parseInteger(buf, start, end);
        if (!this.inRange(c, value)) return false;
        break;
      case DECIMAL:
        scanFloat64(buf, start, end);
        value = PARSED[0];
        if (!this.inRange(c, value)) return false;
        break;
      case TIMESTAMP: {
        scanTimestamp(buf, start, end);
        value = PARSED[0];
        if (!(value >= YEAR_100_MS)) return false;
        const shape = this.shapes[c];
        const utcSeconds = end - start === 20 && buf[start + 19] === LETTER_Z && buf[start + 10] === LETTER_T && this.utcSeconds[c] === 1;
        if (shape !== null && !utcSeconds && !shape.accepts(buf, start, end)) return false;
        break;
      }
      case DATE: {
        value = parseDate(buf, start, end);
        if (!(value >= YEAR_100_DAYS)) return false;
        const shape = this.shapes[c];
        if (shape !== null && !shape.accepts(buf, start, end)) return false;
        break;
      }
      case BOOLEAN:
        value = parseBoolean(buf, start, end);
        if (value < 0) return false;
        break;
      default:
        value = this.dictionaries[c]!.lookup(buf, start, end);
        if (value < 0) return false;
    }
    this.quotedValue = value;
    return true;
  }

  private inRange(c: number, value: number): boolean {
    // NaN fails `value >= lo`.
    const lo = this.lo[c];
    const hi = this.hi[c];
    return value >= lo && value <= hi && !(this.loStrict[c] === 1 && value === lo) && !(this.hiStrict[c] === 1 && value === hi);
  }

  /** A string column's value: the string made for these bytes last time, else decoded; length rules checked. */
  string(buf: Uint8Array, start: number, end: number, escaped: boolean, c: number, builder: ColumnBuilder, index: number): boolean {
    // Keyed by the raw bytes (doubled quotes included): with the reader's quote and encoding fixed, they determine the text.
    const cache = this.strings[c];
    let value = cache.get(buf, start, end);
    if (value === undefined) {
      value = this.text.of(buf, start, end, escaped);
      cache.set(buf, start, end, value);
    }
    if (value.length < this.minLength[c] || value.length > this.maxLength[c]) return false;
    builder.strings![index] = value;
    return true;
  }

  /** Takes back what a record wrote before a field stopped it: nulls, strings, values (0, as under a null). */
  undo(builders: ColumnBuilder[], index: number): void {
    for (const builder of builders) {
      if (builder.validity !== null) builder.validity[index >>> 3] |= 1 << (index & 7);
      if (builder.strings !== null) builder.strings[index] = undefined as unknown as string;
      else builder.values[index] = 0;
    }
  }
}
