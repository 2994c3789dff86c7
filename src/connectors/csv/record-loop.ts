/**
 * The fused record loop's code, generated per record layout (the kind, column, nullability and bounds of
 * each field, and the dialect's delimiter and quote). One loop that looked each field's kind up and
 * dispatched on it spent a table load, a switch and its column's loads per field; the generated loop has
 * each field's parse in line, in file order, with its bounds and bytes as constants: 1.5x faster on the
 * bench's orders file. The parses are those of the switch they replace, field by field.
 *
 * Only numbers computed here go into the code (no names, no text from a file or a schema). Loops are
 * made and cached by layout in codegen/generate.ts, so every file and batch with the same layout shares
 * one function and its optimized code; with code generation off there is no loop, and the scanner and
 * the column loops read every record. What the loop cannot settle in line (quoted fields, strings,
 * undoing a record) it asks its host, the FusedRecords that owns the run's state.
 */
import type { ColumnBuilder } from '../../batch/builder.ts';
import { GeneratedCode, generate } from '../../codegen/generate.ts';
import type { ByteDictionary } from '../../codec/byte-dictionary.ts';
import { parseBoolean, PARSED } from '../../codec/byte-numbers.ts';
import { parseDate, scanTimestamp, scanUtcSecondsTimestamp } from '../../codec/byte-times.ts';
import { type PatternShape, setNull, YEAR_100_DAYS, YEAR_100_MS } from './column-rules.ts';

// What the loop does with each field of a record.
export const SKIP = 0;
export const INTEGER = 1;
export const DECIMAL = 2;
export const TIMESTAMP = 3;
export const DATE = 4;
export const BOOLEAN = 5;
export const DICTIONARY = 6;
export const STRING = 7;

export interface FieldLayout {
  kind: number;
  /** The planned column the field fills; -1 when skipped. */
  column: number;
  nullable: boolean;
  /** Numbers: the accepted range (±Infinity when open). */
  lo: number;
  hi: number;
  loStrict: boolean;
  hiStrict: boolean;
  /** Timestamps: `YYYY-MM-DDTHH:MM:SSZ` needs no shape check. */
  utcSeconds: boolean;
  /** Timestamps and dates: a zod pattern the value's layout must pass (host.shapes). */
  shape: boolean;
  /**
   * The class of the column's typed array. Not used in the code, but part of the layout: each store in
   * the loop then sees one array class, the condition for V8 to store without boxing.
   */
  array: string;
}

export interface RecordLayout {
  delimiter: number;
  quote: number;
  fields: FieldLayout[];
}

/** What the generated loop reads from, and calls back into, its FusedRecords. */
export interface RecordLoopHost {
  readonly stop: Uint8Array;
  readonly dictionaries: (ByteDictionary | null)[];
  readonly shapes: (PatternShape | null)[];
  readonly maxRecordBytes: number;
  /** Line breaks inside the last quoted field {@link quotedField} took, and its value (0 for null). */
  quotedLines: number;
  quotedValue: number;
  /** Wide records (read in segments): the line a segment reached, and where the record's last field ended. */
  segmentLine: number;
  recordEnd: number;
  /** Settles the quoted field of a non-string column opening at `i`; returns the index after its closing quote, or -1 to stop. */
  quotedField(buf: Uint8Array, i: number, limit: number, field: number, index: number, builders: ColumnBuilder[]): number;
  string(buf: Uint8Array, start: number, end: number, escaped: boolean, column: number, builder: ColumnBuilder, index: number): boolean;
  undo(builders: ColumnBuilder[], index: number): void;
  finish(position: number, line: number): void;
}

export type RecordLoop = (
  host: RecordLoopHost,
  buf: Uint8Array,
  position: number,
  limit: number,
  line: number,
  builders: ColumnBuilder[],
  lines: Int32Array,
  out: number,
  maxRows: number,
) => number;

const LF = 0x0a;
const CR = 0x0d;

const helpers = { setNull, PARSED, parseBoolean, parseDate, scanTimestamp, scanUtcSecondsTimestamp };

const loops = new GeneratedCode<RecordLayout, RecordLoop>('record-loop', compile);

/** The loop for `layout`, generated on first use; null when code generation is off (the scanner reads instead). */
export function recordLoopFor(layout: RecordLayout): RecordLoop | null {
  return loops.get(layout);
}

/** A number as a JS literal; the layout holds only numbers we computed, checked here. */
function literal(value: number): string {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`record loop: not a number: ${String(value)}`);
  return Object.is(value, -0) ? '-0' : String(value);
}

/** `break fields` unless `value` is in the field's range; nothing for an open end. */
function rangeCheck(field: FieldLayout): string {
  const fails: string[] = [];
  if (field.lo !== -Infinity) fails.push(field.loStrict ? `!(value > ${literal(field.lo)})` : `!(value >= ${literal(field.lo)})`);
  if (field.hi !== Infinity) fails.push(field.hiStrict ? `value >= ${literal(field.hi)}` : `value > ${literal(field.hi)}`);
  return fails.length === 0 ? '' : `if (${fails.join(' || ')}) break fields;`;
}

/** Code for an unquoted, non-empty field at `i` (`b` is `buf[i]`); leaves `i` at the byte after it, in `b`. */
function valueCode(field: FieldLayout): string {
  const c = field.column;
  const untilStop = 'const start = i; while (stop[b] === 0) b = buf[++i];';
  switch (field.kind) {
    case INTEGER:
      return `let negative = false;
        if (b === 0x2d) { negative = true; b = buf[++i]; }
        const start = i;
        let value = 0;
        while (b >= 0x30 && b <= 0x39) { value = value * 10 + (b - 0x30); b = buf[++i]; }
        if (i === start || i - start > 15) break fields;
        if (negative) value = -value;
        ${rangeCheck(field)}
        values${c}[index] = value;`;
    case DECIMAL:
      // `-?digits(.digits)?` or `-?.digits` (`.097`, which Number() and scanFloat64 read) of at most 15
      // digits: what scanFloat64 computes, the same way.
      return `let negative = false;
        if (b === 0x2d) { negative = true; b = buf[++i]; }
        const start = i;
        let mantissa = 0;
        while (b >= 0x30 && b <= 0x39) { mantissa = mantissa * 10 + (b - 0x30); b = buf[++i]; }
        const whole = i - start;
        if (whole === 0 && b !== 0x2e) break fields;
        let fraction = 0;
        if (b === 0x2e) {
          b = buf[++i];
          const fractionStart = i;
          while (b >= 0x30 && b <= 0x39) { mantissa = mantissa * 10 + (b - 0x30); b = buf[++i]; }
          fraction = i - fractionStart;
          if (fraction === 0) break fields;
        }
        if (whole + fraction > 15) break fields;
        let value = fraction === 0 ? mantissa : mantissa / POWERS_OF_TEN[fraction];
        if (negative) value = -value;
        ${rangeCheck(field)}
        values${c}[index] = value;`;
    case TIMESTAMP: {
      const general = `${untilStop}
        scanTimestamp(buf, start, i);
        const value = PARSED[0];
        if (!(value >= ${literal(YEAR_100_MS)})) break fields;
        ${field.shape ? `if (!shape${c}.accepts(buf, start, i)) break fields;` : ''}
        values${c}[index] = value;`;
      if (!field.utcSeconds) return general;
      // Every byte of that layout is a digit, '-', ':', 'T' or 'Z' (the parse checks): the field ends at i + 20.
      return `if (i + 20 < limit && buf[i + 19] === 0x5a && buf[i + 10] === 0x54) {
          scanUtcSecondsTimestamp(buf, i);
          const value = PARSED[0];
          if (!(value >= ${literal(YEAR_100_MS)})) break fields;
          values${c}[index] = value;
          i += 20;
          b = buf[i];
        } else {
          ${general}
        }`;
    }
    case DATE:
      return `${untilStop}
        const value = parseDate(buf, start, i);
        if (!(value >= ${literal(YEAR_100_DAYS)})) break fields;
        ${field.shape ? `if (!shape${c}.accepts(buf, start, i)) break fields;` : ''}
        values${c}[index] = value;`;
    case BOOLEAN:
      return `${untilStop}
        const value = parseBoolean(buf, start, i);
        if (value < 0) break fields;
        values${c}[index] = value;`;
    case DICTIONARY:
      return `${untilStop}
        const code = dictionary${c}.lookup(buf, start, i);
        if (code < 0) break fields;
        values${c}[index] = code;`;
    case STRING:
      return `${untilStop}
        if (!host.string(buf, start, i, false, ${c}, builder${c}, index)) break fields;`;
    default:
      return 'while (stop[b] === 0) b = buf[++i];';
  }
}

/**
 * Code that moves `i` from the first byte inside a quoted field to its closing quote: `""` pairs
 * inside are passed (running `onEscape`), line breaks counted; `break fields` when the buffer ends first.
 */
function closingQuoteCode(quote: string, onEscape: string): string {
  return `for (;;) {
        while (i < limit && (b = buf[i]) !== ${quote}) {
          if (b === 0x0a || (b === 0x0d && buf[i + 1] !== 0x0a)) line++;
          i++;
        }
        if (i >= limit) break fields;
        if (buf[i + 1] !== ${quote}) break;
        ${onEscape}
        i += 2;
      }`;
}

/** Code for a quoted field at `i` (`b` is the quote); leaves `i` after the closing quote, its byte in `b`. */
function quotedCode(field: FieldLayout, f: number, layout: RecordLayout, empty: string): string {
  const c = field.column;
  const quote = literal(layout.quote);
  if (field.kind === SKIP) {
    // A skipped field (projection) is passed over in line, as a string is found. A call to the host per
    // quoted skipped field cost 9% of a group-by reading 4 of the orders file's 10 columns (its quoted notes).
    return `i++;
      ${closingQuoteCode(quote, '')}
      b = buf[++i];`;
  }
  if (field.kind !== STRING) {
    return `i = host.quotedField(buf, i, limit, ${f}, index, builders);
      if (i < 0) break fields;
      line += host.quotedLines;
      values${c}[index] = host.quotedValue;
      b = buf[i];`;
  }
  // Strings are the fields most often quoted: found in line. Line breaks inside count. As in the column
  // loops, `""` is an empty field: null (the row path makes it "" where nulls are not allowed).
  return `const start = ++i;
      let escaped = false;
      ${closingQuoteCode(quote, 'escaped = true;')}
      const end = i++;
      if (start === end) { ${empty} }
      else if (!host.string(buf, start, end, escaped, ${c}, builder${c}, index)) break fields;
      b = buf[i];`;
}

function fieldCode(field: FieldLayout, f: number, last: boolean, layout: RecordLayout): string {
  const c = field.column;
  let empty = '';
  if (field.kind !== SKIP) {
    if (!field.nullable) empty = 'break fields;';
    else empty = `setNull(builder${c}, index);${field.kind === STRING ? '' : ` values${c}[index] = 0;`}`;
  }
  // What ends the field: a delimiter before the last field, a line break after it; anything else (a quote
  // inside an unquoted field, text after a closing quote, a field count off) is the scanner's to report.
  const end = last
    ? `recordEnd = i;
      if (b === 0x0a) i++;
      else if (b === 0x0d && buf[i + 1] === 0x0a) i += 2;
      else break fields;
      line++;`
    : `if (b !== ${literal(layout.delimiter)}) break fields;
      b = buf[++i];`;
  return `// field ${f}
    if (b === ${literal(layout.delimiter)} || b === 0x0a || b === 0x0d) {
      ${empty}
    } else if (b === ${literal(layout.quote)}) {
      ${quotedCode(field, f, layout, empty)}
    } else {
      ${valueCode(field)}
    }
    ${end}`;
}

/** The locals the code of `fields` reads: its columns' builders, arrays, dictionaries, shapes. */
function localsOf(fields: readonly FieldLayout[]): string {
  const locals: string[] = [];
  for (const field of fields) {
    const c = field.column;
    if (field.kind === SKIP) continue;
    locals.push(`const builder${c} = builders[${c}];`);
    if (field.kind !== STRING) locals.push(`const values${c} = builder${c}.values;`);
    if (field.kind === DICTIONARY) locals.push(`const dictionary${c} = host.dictionaries[${c}];`);
    if (field.shape) locals.push(`const shape${c} = host.shapes[${c}];`);
  }
  return locals.join('\n');
}

const PRELUDE = `
  const POWERS_OF_TEN = new Float64Array(16);
  for (let k = 0, p = 1; k < 16; k++, p *= 10) POWERS_OF_TEN[k] = p;`;

/** Records of more fields than this are read by several generated functions of SEGMENT_FIELDS fields each. */
const WHOLE_FIELDS = 32;
const SEGMENT_FIELDS = 24;

function compile(layout: RecordLayout, name: string): RecordLoop {
  const fields = layout.fields;
  if (fields.length > WHOLE_FIELDS) return compileSegmented(layout, name);
  const body = fields.map((field, f) => `{ ${fieldCode(field, f, f === fields.length - 1, layout)} }`).join('\n');
  const source = `
    ${PRELUDE}
    return function fusedRecords(host, buf, position, limit, line, builders, lines, out, maxRows) {
      const stop = host.stop;
      ${localsOf(fields)}
      let i = position;
      let row = 0;
      rows: while (row < maxRows && i < limit) {
        const recordStart = i;
        const recordLine = line;
        const index = out + row;
        let recordEnd = 0;
        let b = buf[i];
        // An empty line is the scanner's to skip.
        if (b === 0x0a || b === 0x0d) break;
        fields: {
          ${body}
          if (recordEnd - recordStart > host.maxRecordBytes) break fields;
          lines[index] = recordLine;
          row++;
          continue rows;
        }
        host.undo(builders, index);
        i = recordStart;
        line = recordLine;
        break;
      }
      host.finish(i, line);
      return row;
    };`;
  return generate<RecordLoop>(name, helpers, source);
}

/** Reads fields [a, b) of the record at row `index` from `i`; returns the index after them, or -1 to stop. */
type Segment = (host: RecordLoopHost, buf: Uint8Array, i: number, limit: number, line: number, builders: ColumnBuilder[], index: number) => number;

/**
 * A wide record: generated functions of SEGMENT_FIELDS fields each, called in turn for every record (one
 * function for all the fields would be too large for V8 to optimize well). Each returns where it
 * stopped and leaves the line it reached, and the record's end when it holds the last field, in
 * `host.segmentLine` and `host.recordEnd`.
 */
function compileSegmented(layout: RecordLayout, name: string): RecordLoop {
  const fields = layout.fields;
  const segments: Segment[] = [];
  for (let start = 0; start < fields.length; start += SEGMENT_FIELDS) {
    const end = Math.min(start + SEGMENT_FIELDS, fields.length);
    const part = fields.slice(start, end);
    const body = part.map((field, k) => `{ ${fieldCode(field, start + k, start + k === fields.length - 1, layout)} }`).join('\n');
    const source = `
      ${PRELUDE}
      return function fusedFields(host, buf, i, limit, line, builders, index) {
        const stop = host.stop;
        ${localsOf(part)}
        let recordEnd = 0;
        let b = buf[i];
        fields: {
          ${body}
          host.segmentLine = line;
          ${end === fields.length ? 'host.recordEnd = recordEnd;' : ''}
          return i;
        }
        return -1;
      };`;
    segments.push(generate<Segment>(`${name}-fields-${start}`, helpers, source));
  }
  return (host, buf, position, limit, line, builders, lines, out, maxRows) => {
    let i = position;
    let row = 0;
    while (row < maxRows && i < limit) {
      const recordStart = i;
      const recordLine = line;
      const index = out + row;
      const first = buf[i];
      // An empty line is the scanner's to skip.
      if (first === LF || first === CR) break;
      let at = i;
      for (let s = 0; s < segments.length && at >= 0; s++) {
        at = segments[s](host, buf, at, limit, line, builders, index);
        line = host.segmentLine;
      }
      if (at < 0 || host.recordEnd - recordStart > host.maxRecordBytes) {
        host.undo(builders, index);
        i = recordStart;
        line = recordLine;
        break;
      }
      i = at;
      lines[index] = recordLine;
      row++;
    }
    host.finish(i, line);
    return row;
  };
}
