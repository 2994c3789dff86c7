/**
 * The fast CSV engine: bytes → typed columns without a string per field.
 *
 * Per input chunk the scanner fills a {@link FieldTable} (start/end/flags of every field of every complete
 * record); then each planned column is converted in its own loop over the rows (Arrow/DuckDB style),
 * writing parsed values straight into the RowDecoder's builders. Unplanned columns are never touched.
 *
 * Semantics are RowDecoder's, not a copy of them: the byte loops accept only values whose outcome is
 * certain and side-effect free (a number that parses and fits its bounds, a known dictionary entry, a
 * null in a nullable column, …). The first row with any other value (a violation, a value that widens
 * an inferred column, a zod check, a default, an unknown dictionary entry) stops the loops; the rows
 * before it are committed, and that row goes through `RowDecoder.append` as text, exactly as the
 * csv-parse engine would hand it over. So both engines give the same batches, rejects and warnings.
 */
import { open } from 'node:fs/promises';
import type { Batch } from '../../batch/batch.ts';
import { bitmapBytes } from '../../batch/bitmap.ts';
import type { ColumnBuilder } from '../../batch/builder.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import { INTEGER_RANGE, isIntegerDType, type TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../errors.ts';
import type { SourceContext } from '../../pipeline.ts';
import { RowDecoder } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { openInput, readError } from '../files.ts';
import { Utf8Validator } from '../utf8.ts';
import {
  ByteDictionary,
  StringCache,
  collapseQuotes,
  decodeLatin1,
  decodeUtf8,
  parseBoolean,
  parseDate,
  parseInteger,
  PARSED,
  parseFloat64,
  scanFloat64,
  scanTimestamp,
} from './bytes.ts';
import { fieldCountError, positionsOf } from './header.ts';
import type { ResolvedCsvOptions } from './options.ts';
import { CsvScanner, FieldTable, type FieldSink } from './scanner.ts';

export const fastEngineAvailable = true;

/** Rows converted column by column before committing: bounds the work redone after a slow value. */
const BLOCK_ROWS = 1024;
/** `Date.UTC` maps years 0-99 to 1900-1999; the text path follows it, so the byte path leaves them to it. */
const YEAR_100_MS = -59_011_459_200_000;
const YEAR_100_DAYS = YEAR_100_MS / 86_400_000;

const QUOTED = 1;
const ESCAPED = 2;

/** The byte keys of each run's dictionaries (keyed by the plan's Dictionary, shared across files). */
const byteDictionaries = new WeakMap<Dictionary, ByteDictionary>();

function byteDictionaryOf(dictionary: Dictionary): ByteDictionary {
  let bytes = byteDictionaries.get(dictionary);
  if (bytes === undefined) {
    bytes = new ByteDictionary(Math.min(dictionary.cap, 1024));
    byteDictionaries.set(dictionary, bytes);
  }
  return bytes;
}

/** One buffer's complete records, as the scanner left them. */
interface ScannedBuffer {
  buf: Uint8Array;
  /** Input offset of buf[0]. */
  base: number;
  table: FieldTable;
  /** The scanner error that ended the input after the table's records, if any. */
  error: unknown;
}

const NO_SINK: FieldSink = { field() {}, endRecord() {} };

/** Bytes read per step; the read buffer is this plus the incomplete record carried over. */
const READ_BYTES = 1 << 20;

/** Fills `target[offset, offset + length)` with the next bytes of a file; 0 at its end. */
interface ByteReader {
  read(target: Uint8Array, offset: number, length: number): Promise<number>;
  /** Bytes read from disk so far (compressed bytes for .gz): progress against the file size. */
  diskBytes(): number;
  close(): Promise<void>;
}

/** A plain file is read straight into the caller's buffer; a .gz one through the gunzip stream (one copy). */
async function openBytes(file: string, validator: Utf8Validator | null): Promise<ByteReader> {
  if (!file.endsWith('.gz')) {
    const handle = await open(file, 'r');
    let position = 0;
    return {
      async read(target, offset, length) {
        const { bytesRead } = await handle.read(target, offset, length, position);
        position += bytesRead;
        validator?.check(target.subarray(offset, offset + bytesRead));
        return bytesRead;
      },
      diskBytes: () => position,
      close: () => handle.close(),
    };
  }
  const input = openInput(file);
  const chunks = (input.stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let chunk: Buffer | null = null;
  let chunkOffset = 0;
  return {
    async read(target, offset, length) {
      while (chunk === null) {
        const next = await chunks.next();
        if (next.done === true) return 0;
        if (next.value.length === 0) continue;
        chunk = next.value;
        chunkOffset = 0;
        validator?.check(chunk);
      }
      const take = Math.min(chunk.length - chunkOffset, length);
      target.set(chunk.subarray(chunkOffset, chunkOffset + take), offset);
      chunkOffset += take;
      if (chunkOffset === chunk.length) chunk = null;
      return take;
    },
    diskBytes: () => input.diskBytes(),
    async close() {
      input.close();
    },
  };
}

/**
 * Reads `file` into field tables, one per input chunk. Reads go into one buffer reused for the whole
 * file (each chunk after the incomplete record the previous one ended with, moved to the front), so
 * reading allocates nothing per chunk; the buffer grows only for a record longer than half a chunk
 * (the scanner fails past maxRecordBytes). Nothing that outlives a chunk's conversion points into the
 * buffer: strings are copied out (see decodeUtf8), dictionary keys too. UTF-8 is validated per chunk
 * before it is scanned, as the csv-parse engine does, so both report the same first error. A scanner
 * error is yielded with the records completed before it, then thrown by the caller.
 */
async function* scanFile(
  file: string,
  options: ResolvedCsvOptions,
  signal: AbortSignal,
  table: FieldTable,
  scanner: CsvScanner,
  onProgress?: (diskBytes: number) => void,
): AsyncGenerator<ScannedBuffer> {
  const validator = options.encoding === 'utf8' ? new Utf8Validator(file) : null;
  let input: ByteReader | undefined;
  // The scanner and the value parsers must see one array class (see CsvScanner.push): a plain Uint8Array.
  let buffer = new Uint8Array(READ_BYTES);
  /** Bytes of buffer in use: the carried incomplete record. */
  let filled = 0;
  let base = 0;
  let bomChecked = false;
  const scan = (end: number, final: boolean): ScannedBuffer => {
    const view = end === buffer.length ? buffer : buffer.subarray(0, end);
    let position = 0;
    if (!bomChecked) {
      bomChecked = true;
      if (end >= 3 && view[0] === 0xef && view[1] === 0xbb && view[2] === 0xbf) position = 3;
    }
    table.reset();
    let error: unknown = null;
    let rest = end;
    try {
      rest = scanner.scanTable(view, position, base, final, table);
    } catch (caught) {
      error = caught;
    }
    base += rest;
    filled = end - rest;
    return { buf: view, base: base - rest, table, error };
  };
  try {
    input = await openBytes(file, validator);
    for (;;) {
      signal.throwIfAborted();
      if (buffer.length - filled < READ_BYTES / 2) {
        const grown = new Uint8Array(Math.max(buffer.length * 2, filled + READ_BYTES));
        grown.set(buffer.subarray(0, filled), 0);
        buffer = grown;
      }
      const read = await input.read(buffer, filled, buffer.length - filled);
      if (read === 0) break;
      const end = filled + read;
      if (!bomChecked && end < 3) {
        filled = end;
        continue;
      }
      const scanned = scan(end, false);
      onProgress?.(input.diskBytes());
      yield scanned;
      if (scanned.error !== null) return;
      // The chunk's records are converted: move the incomplete record to the front.
      if (filled > 0) buffer.copyWithin(0, end - filled, end);
    }
    validator?.end();
    if (filled > 0) yield scan(filled, true);
  } catch (error) {
    throw readError(file, error);
  } finally {
    await input?.close();
  }
}

/** Scanner errors carry their location; the message gets the file:line:column prefix the other CSV errors have. */
function withPrefix(file: string, error: unknown): unknown {
  if (!(error instanceof SluiceError) || error.details.file === undefined) return error;
  const { line, column } = error.details;
  if (error.message.startsWith(`${file}:`)) return error;
  return new SluiceError(error.code, `${file}:${line}${column === undefined ? '' : `:${column}`}: ${error.message}`, error.details);
}

/** The text of field `k` (an index into the table's field arrays), quotes collapsed. */
class FieldText {
  private scratch = new Uint8Array(4096);
  constructor(
    private readonly latin1: boolean,
    private readonly quote: number,
  ) {}

  of(buf: Uint8Array, table: FieldTable, k: number): string {
    let start = table.starts[k];
    let end = table.ends[k];
    let source = buf;
    if ((table.flags[k] & ESCAPED) !== 0) {
      if (this.scratch.length < end - start) this.scratch = new Uint8Array(end - start);
      end = collapseQuotes(buf, start, end, this.scratch, this.quote);
      start = 0;
      source = this.scratch;
    }
    return this.latin1 ? decodeLatin1(source, start, end) : decodeUtf8(source, start, end);
  }
}

/** The field-count error of record `r`, located like the scanner's errors (code points from the line start). */
function fieldCountAt(file: string, scanner: CsvScanner, scanned: ScannedBuffer, r: number, expected: number): SluiceError {
  const { table, buf, base } = scanned;
  const count = table.fieldCount[r];
  const first = table.fieldBase[r];
  let position: number;
  let after = 0;
  if (count > expected) {
    position = table.starts[first + expected] - (table.flags[first + expected] & QUOTED);
  } else {
    // Where the missing field would start: after the last field (and its closing quote) and a delimiter.
    const last = first + count - 1;
    position = table.ends[last] + (table.flags[last] & QUOTED);
    after = 1;
  }
  const at = scanner.locateIn(buf, base, table.recordStart[r], table.line[r], position);
  return fieldCountError(file, table.line[r], expected, count, (at.column as number) + after);
}

function newScanner(file: string, options: ResolvedCsvOptions): CsvScanner {
  return new CsvScanner(NO_SINK, {
    dialect: { delimiter: options.delimiter.charCodeAt(0), quote: options.quote.charCodeAt(0) },
    maxRecordBytes: options.maxRecordBytes,
    file,
  });
}

/**
 * The first structural error of a file as the fast engine reports it (invalid UTF-8, quotes, record
 * size, field counts), or null. The csv-parse engine calls it when it fails, so that both engines point
 * at the same line and column; it costs one more pass over the file, on the error path only.
 */
export async function findStructuralError(file: string, options: ResolvedCsvOptions, signal: AbortSignal): Promise<SluiceError | null> {
  const table = new FieldTable();
  const scanner = newScanner(file, options);
  let expected = options.header === true ? -1 : options.header.length;
  try {
    for await (const scanned of scanFile(file, options, signal, table, scanner)) {
      for (let r = 0; r < table.length; r++) {
        if (expected < 0) expected = table.fieldCount[r];
        else if (table.fieldCount[r] !== expected) return fieldCountAt(file, scanner, scanned, r, expected);
      }
      if (scanned.error !== null) {
        const error = withPrefix(file, scanned.error);
        return error instanceof SluiceError ? error : null;
      }
    }
  } catch (error) {
    return error instanceof SluiceError ? error : null;
  }
  return null;
}

export async function* readFastBatches(
  file: string,
  plans: ColumnPlan[],
  options: ResolvedCsvOptions,
  context: SourceContext,
  progress: (bytes: number) => void,
): AsyncGenerator<Batch> {
  const reader = new FastReader(file, plans, options, context);
  const table = new FieldTable();
  for await (const scanned of scanFile(file, options, context.signal, table, reader.scanner, progress)) {
    yield* reader.convert(scanned);
    if (scanned.error !== null) throw withPrefix(file, scanned.error);
  }
  const last = reader.finish();
  if (last !== null) yield last;
}

class FastReader {
  readonly scanner: CsvScanner;
  private header: readonly string[] | undefined;
  private positions: number[] = [];
  private decoder: RowDecoder;
  private readonly text: FieldText;
  /** Per planned column: its recently decoded strings (used by string columns only). */
  private readonly strings: StringCache[];
  private readonly values: unknown[];
  private readonly widen: (column: string, from: string, to: string, value: string, line?: number) => void;
  private readonly quote: number;

  constructor(
    private readonly file: string,
    private readonly plans: ColumnPlan[],
    options: ResolvedCsvOptions,
    private readonly context: SourceContext,
  ) {
    this.scanner = newScanner(file, options);
    this.header = options.header === true ? undefined : options.header;
    if (this.header !== undefined) this.positions = positionsOf(file, plans, this.header);
    this.widen = (column, from, to, value, line) =>
      context.warn(`column ${JSON.stringify(column)} widened from ${from} to ${to} at value ${JSON.stringify(value)} (${file}${line ? `:${line}` : ''})`);
    this.decoder = new RowDecoder(plans, context.batchRows(), this.widen);
    this.quote = options.quote.charCodeAt(0);
    this.text = new FieldText(options.encoding === 'latin1', this.quote);
    this.strings = plans.map(() => new StringCache());
    this.values = new Array(plans.length);
  }

  /** Converts every record of one scanned buffer; yields each batch as it fills. */
  async *convert(scanned: ScannedBuffer): AsyncGenerator<Batch> {
    const { table, buf } = scanned;
    let r = 0;
    if (this.header === undefined) {
      if (table.length === 0) return;
      const header: string[] = [];
      const first = table.fieldBase[0];
      for (let k = 0; k < table.fieldCount[0]; k++) header.push(this.text.of(buf, table, first + k));
      this.header = header;
      this.positions = positionsOf(this.file, this.plans, header);
      r = 1;
    }
    const expected = this.header.length;
    const fieldCount = table.fieldCount;
    while (r < table.length) {
      this.context.signal.throwIfAborted();
      const room = this.decoder.capacity - this.decoder.length;
      let end = Math.min(table.length, r + room);
      let bad = -1;
      for (let k = r; k < end; k++) {
        if (fieldCount[k] !== expected) {
          bad = k;
          end = k;
          break;
        }
      }
      while (r < end) {
        r = this.fastRows(scanned, r, end);
        if (r < end) {
          await this.slowRow(scanned, r);
          r++;
        }
      }
      if (bad >= 0) throw fieldCountAt(this.file, this.scanner, scanned, bad, expected);
      if (this.decoder.full) {
        yield this.decoder.flush({ file: this.file });
        // flush() left fresh builders; a new decoder only when the budget changed the batch size.
        const rows = this.context.batchRows();
        if (rows !== this.decoder.capacity) this.decoder = new RowDecoder(this.plans, rows, this.widen);
      }
    }
  }

  finish(): Batch | null {
    return this.decoder.length > 0 ? this.decoder.flush({ file: this.file }) : null;
  }

  /** One row through RowDecoder as text: the csv-parse engine's path, for values the byte loops leave. */
  private async slowRow(scanned: ScannedBuffer, r: number): Promise<void> {
    const { table, buf } = scanned;
    const first = table.fieldBase[r];
    const positions = this.positions;
    const values = this.values;
    for (let c = 0; c < positions.length; c++) values[c] = this.text.of(buf, table, first + positions[c]);
    const line = table.line[r];
    const violation = this.decoder.append(values, line);
    if (violation !== null) {
      await this.context.reject(violation, { file: this.file, line, column: violation.column });
      return;
    }
    // Remember new dictionary entries by their bytes, so the next occurrences take the byte path.
    const builders = this.decoder.builders;
    for (let c = 0; c < positions.length; c++) {
      const plan = this.plans[c];
      const builder = builders[c];
      if (plan.dtype !== 'dictionary' || builder.dtype !== 'dictionary' || plan.dictionary === undefined) continue;
      const k = first + positions[c];
      const start = table.starts[k];
      const end = table.ends[k];
      if (start === end) continue;
      const index = builder.length - 1;
      if (builder.validity !== null && (builder.validity[index >>> 3] & (1 << (index & 7))) === 0) continue;
      const bytes = byteDictionaryOf(plan.dictionary);
      if (bytes.lookup(buf, start, end) < 0) bytes.add(buf, start, end, builder.values[index]);
    }
  }

  /**
   * Converts rows [from, to) column by column, in blocks, committing every row whose values all took
   * the byte path. Returns the first row that did not (`to` when all did).
   */
  private fastRows(scanned: ScannedBuffer, from: number, to: number): number {
    const plans = this.plans;
    const positions = this.positions;
    const decoder = this.decoder;
    const table = scanned.table;
    const buf = scanned.buf;
    let r = from;
    while (r < to) {
      const blockEnd = Math.min(to, r + BLOCK_ROWS);
      let stop = blockEnd;
      const out = decoder.length;
      const builders = decoder.builders;
      for (let c = 0; c < plans.length && stop > r; c++) {
        stop = convertColumn(plans[c], builders[c], positions[c], table, buf, r, stop, out, this.text, this.strings[c]);
      }
      const done = stop - r;
      const lines = decoder.lines;
      const tableLines = table.line;
      for (let i = 0; i < done; i++) lines[out + i] = tableLines[r + i];
      if (stop < blockEnd) {
        for (const builder of builders) rollBack(builder, out + done, out + (blockEnd - r));
      }
      decoder.commitRows(done);
      r = stop;
      if (stop < blockEnd) return stop;
    }
    return r;
  }
}

/** Undo what the column loops wrote past the committed rows: the row path appends there next. */
function rollBack(builder: ColumnBuilder, from: number, to: number): void {
  const validity = builder.validity;
  if (validity !== null) for (let i = from; i < to; i++) validity[i >>> 3] |= 1 << (i & 7);
  if (builder.strings !== null) for (let i = from; i < to; i++) builder.strings[i] = undefined as unknown as string;
  else if (builder.dtype !== 'string') builder.values.fill(0, from, Math.min(to, builder.values.length));
}

function setNull(builder: ColumnBuilder, index: number): void {
  if (builder.validity === null) builder.validity = new Uint8Array(bitmapBytes(builder.capacity)).fill(0xff);
  builder.validity[index >>> 3] &= ~(1 << (index & 7));
}

/**
 * Converts rows [from, to) of one column into `builder` at `out` onwards; returns the first row whose
 * value must take the row path (or `to`). One loop per kind of column, so each stays monomorphic.
 */
function convertColumn(
  plan: ColumnPlan,
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  text: FieldText,
  strings: StringCache,
): number {
  // Anything zod or a default decides is the row path's.
  if (plan.zod !== undefined || plan.storesZodOutput) return from;
  if (plan.pattern !== undefined && plan.dtype !== 'timestamp' && plan.dtype !== 'date') return from;
  const nullable = plan.nullable && plan.defaultValue === undefined;
  const dtype = plan.dtype;
  if (builder.dtype !== dtype) return from;
  switch (dtype) {
    case 'string':
      return convertStrings(plan, builder, position, table, buf, from, to, out, nullable, text, strings);
    case 'dictionary':
      if (plan.dictionary === undefined) return from;
      return convertDictionary(byteDictionaryOf(plan.dictionary), builder, position, table, buf, from, to, out, nullable);
    case 'bool':
      return convertBooleans(builder, position, table, buf, from, to, out, nullable);
    case 'timestamp':
      return convertTimestamps(builder, position, table, buf, from, to, out, nullable, shapeOf(plan));
    case 'date':
      return convertDates(builder, position, table, buf, from, to, out, nullable, shapeOf(plan));
    default: {
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
      const integer = bounds?.integer === true || isIntegerDType(dtype);
      if (plan.origin === 'inferred' && isIntegerDType(dtype)) {
        // Inferred columns widen instead of rejecting: leave values outside the dtype to the row path.
        const [min, max] = INTEGER_RANGE[dtype];
        if (min > lo || (min === lo && loStrict)) [lo, loStrict] = [min, false];
        if (max < hi || (max === hi && hiStrict)) [hi, hiStrict] = [max, false];
      }
      if (!integer && builder.values instanceof Float64Array) {
        return convertFloats(builder, position, table, buf, from, to, out, nullable, lo, hi, loStrict, hiStrict);
      }
      return convertNumbers(builder, position, table, buf, from, to, out, nullable, integer, lo, hi, loStrict, hiStrict);
    }
  }
}

function convertNumbers(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  integer: boolean,
  lo: number,
  hi: number,
  loStrict: boolean,
  hiStrict: boolean,
): number {
  const values = builder.values as TypedArray;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const n = integer ? parseInteger(buf, start, end) : parseFloat64(buf, start, end);
    // NaN fails both comparisons' negation: `!(n >= lo)` catches it.
    if (!(n >= lo) || n > hi || (loStrict && n === lo) || (hiStrict && n === hi)) return r;
    values[index] = n;
  }
  return to;
}

/**
 * A float64 column: its own copy of convertNumbers on purpose. A store site that has seen several typed
 * array kinds takes a boxed value, so sharing the integer columns' loop cost one HeapNumber per value.
 */
function convertFloats(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  lo: number,
  hi: number,
  loStrict: boolean,
  hiStrict: boolean,
): number {
  const values = builder.values as Float64Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    scanFloat64(buf, start, end);
    const n = PARSED[0];
    // NaN fails both comparisons' negation: `!(n >= lo)` catches it.
    if (!(n >= lo) || n > hi || (loStrict && n === lo) || (hiStrict && n === hi)) return r;
    values[index] = n;
  }
  return to;
}

function convertBooleans(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
): number {
  const values = builder.values as Uint8Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const b = parseBoolean(buf, start, end);
    if (b < 0) return r;
    values[index] = b;
  }
  return to;
}

function convertTimestamps(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  shape: PatternShape | null,
): number {
  const values = builder.values as Float64Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    scanTimestamp(buf, start, end);
    const n = PARSED[0];
    if (!(n >= YEAR_100_MS)) return r;
    if (shape !== null && !(end - start === 20 && buf[start + 19] === 0x5a && buf[start + 10] === 0x54 && shape.utcSeconds) && !shape.accepts(buf, start, end)) {
      return r;
    }
    values[index] = n;
  }
  return to;
}

/** Dates (int32 days): a copy of convertTimestamps, so each loop stores into one array kind. */
function convertDates(
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  shape: PatternShape | null,
): number {
  const values = builder.values as Int32Array;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const n = parseDate(buf, start, end);
    if (!(n >= YEAR_100_DAYS)) return r;
    if (shape !== null && !shape.accepts(buf, start, end)) return r;
    values[index] = n;
  }
  return to;
}

/**
 * zod's ISO date and date-time formats come with a regex the text must match (`plan.pattern`). Running
 * it per value needs a string per value. The regexes check the layout of the text (which characters,
 * how many digits) and the ranges of month, day (leap years included), hour, minute, second and offset,
 * and parseDate/parseTimestamp check those same ranges. So once the regex accepted one value, any value
 * with the same layout (digits as 0, other bytes as they are) that the byte parser accepts matches too.
 * Files hold one or two layouts per column: the regex runs once per layout, not per value.
 */
class PatternShape {
  private readonly known: Uint8Array[] = [];
  /**
   * Whether the pattern accepts `YYYY-MM-DDTHH:MM:SSZ`. scanTimestamp parses a 20-byte value ending in Z
   * with a T at 10 only when it has exactly that layout (digits, dashes, colons checked), so for such a
   * value this flag is the layout check, without comparing its bytes.
   */
  readonly utcSeconds: boolean;
  constructor(private readonly pattern: RegExp) {
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

function shapeOf(plan: ColumnPlan): PatternShape | null {
  const pattern = plan.pattern;
  if (pattern === undefined) return null;
  let shape = shapes.get(pattern);
  if (shape === undefined) {
    shape = new PatternShape(pattern);
    shapes.set(pattern, shape);
  }
  return shape;
}

function convertStrings(
  plan: ColumnPlan,
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
  text: FieldText,
  cache: StringCache,
): number {
  const strings = builder.strings!;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  const minLength = plan.minLength ?? 0;
  const maxLength = plan.maxLength ?? Infinity;
  if (plan.enumValues !== undefined) return from;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const index = out + r - from;
    if (starts[k] === ends[k]) {
      if (!nullable) return r;
      setNull(builder, index);
      continue;
    }
    // Keyed by the raw bytes (doubled quotes included): with the reader's quote and encoding fixed,
    // they determine the text.
    const start = starts[k];
    const end = ends[k];
    let value = cache.get(buf, start, end);
    if (value === undefined) {
      value = text.of(buf, table, k);
      cache.set(buf, start, end, value);
    }
    if (value.length < minLength || value.length > maxLength) return r;
    strings[index] = value;
  }
  return to;
}

function convertDictionary(
  dictionary: ByteDictionary,
  builder: ColumnBuilder,
  position: number,
  table: FieldTable,
  buf: Uint8Array,
  from: number,
  to: number,
  out: number,
  nullable: boolean,
): number {
  const values = builder.values as TypedArray;
  const fieldBase = table.fieldBase;
  const starts = table.starts;
  const ends = table.ends;
  for (let r = from; r < to; r++) {
    const k = fieldBase[r] + position;
    const start = starts[k];
    const end = ends[k];
    const index = out + r - from;
    if (start === end) {
      if (!nullable) return r;
      setNull(builder, index);
      values[index] = 0;
      continue;
    }
    const code = dictionary.lookup(buf, start, end);
    if (code < 0) return r;
    values[index] = code;
  }
  return to;
}
