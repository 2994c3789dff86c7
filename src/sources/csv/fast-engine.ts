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
import type { ColumnBuilder } from '../../batch/builder.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../errors.ts';
import type { SourceContext } from '../../pipeline.ts';
import { RowDecoder } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { openInput, readError } from '../files.ts';
import { Utf8Validator } from '../utf8.ts';
import {
  ByteDictionary,
  StringCache,
  parseBoolean,
  parseDate,
  parseInteger,
  PARSED,
  parseFloat64,
  scanFloat64,
  scanTimestamp,
} from './bytes.ts';
import {
  byteDictionaryOf,
  byteLoopsApply,
  FieldText,
  nullsAllowed,
  numericRange,
  rollBack,
  setNull,
  shapeOf,
  type PatternShape,
  YEAR_100_DAYS,
  YEAR_100_MS,
} from './column-rules.ts';
import { FUSED_BLOCK_ROWS, FusedRecords } from './fused.ts';
import { fieldCountError, positionsOf } from './header.ts';
import type { ResolvedCsvOptions } from './options.ts';
import { CsvScanner, FieldTable, type FieldSink } from './scanner.ts';

export const fastEngineAvailable = true;

/** Rows converted column by column before committing: bounds the work redone after a slow value. */
const BLOCK_ROWS = 1024;
const QUOTED = 1;
const ESCAPED = 2;
const LF = 0x0a;

/** Records of a buffer, as the scanner left them. */
interface ScannedBuffer {
  buf: Uint8Array;
  /** Input offset of buf[0]. */
  base: number;
  table: FieldTable;
}

/**
 * Records the scanner takes each time the fused loop stops, before the loop tries again. Switching costs
 * about as much as the fused loop saves on 6 records (measured: ~1.5 us a switch, ~0.25 us saved a
 * record), so after a run of fewer than WORTH_ROWS records the scanner takes twice as many next time,
 * up to LAST_SCANNER_STEP; a longer run sets it back to one. A file with one hard record in ten stays
 * ~90% on the fused loop; one that alternates goes to the scanner instead of switching every record.
 */
const FIRST_SCANNER_STEP = 1;
const LAST_SCANNER_STEP = 1 << 16;
const WORTH_ROWS = 8;

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
 * One read of the input: `buf` holds the incomplete record the previous chunk ended with, then the bytes
 * read. The consumer takes the complete records from `position` on and sets `rest` to where the
 * incomplete record at the end starts (`buf.length` when there is none); the reader carries it over.
 */
interface Chunk {
  buf: Uint8Array;
  /** Input offset of buf[0]. */
  base: number;
  /** Where records start: 0, or 3 after a UTF-8 BOM at the start of the input. */
  position: number;
  /** The chunk ends the input: a last record without a line break is complete. */
  final: boolean;
  rest: number;
}

/** Room before each read for the incomplete record carried over; a longer one is copied with the read into a new buffer. */
const CARRY_BYTES = 64 * 1024;

/**
 * Reads `file` in chunks. Two buffers take turns: while the consumer converts one chunk, the next read
 * fills the other (so the disk and the parser work at once), behind room for the incomplete record the
 * chunk will end with, which is copied there before the next chunk is handed out. Reading allocates
 * nothing per chunk, except for records longer than that room. Nothing that outlives a chunk's
 * conversion points into the buffers: strings are copied out (see decodeUtf8 in bytes.ts), dictionary
 * keys too. UTF-8 is validated per read before it is scanned, as the csv-parse engine does, so both
 * report the same first error.
 */
async function* readChunks(
  file: string,
  options: ResolvedCsvOptions,
  signal: AbortSignal,
  onProgress?: (diskBytes: number) => void,
): AsyncGenerator<Chunk> {
  const validator = options.encoding === 'utf8' ? new Utf8Validator(file) : null;
  let input: ByteReader | undefined;
  // The scanner and the value parsers must see one array class (see CsvScanner.push): a plain Uint8Array.
  const buffers = [new Uint8Array(CARRY_BYTES + READ_BYTES), new Uint8Array(CARRY_BYTES + READ_BYTES)];
  let turn = 0;
  /** The incomplete record carried over (a view of the previous chunk), and its input offset. */
  let carried: Uint8Array = new Uint8Array(0);
  let base = 0;
  let bomChecked = false;
  let pending: Promise<number> | null = null;
  const readAhead = (reader: ByteReader): Promise<number> => {
    const read = reader.read(buffers[turn], CARRY_BYTES, READ_BYTES);
    // Awaited before the next chunk, or in finally when the consumer stops first: never unhandled.
    read.catch(() => {});
    return read;
  };
  const chunkOf = (buf: Uint8Array, final: boolean): Chunk => {
    let position = 0;
    if (!bomChecked) {
      bomChecked = true;
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) position = 3;
    }
    return { buf, base, position, final, rest: buf.length };
  };
  try {
    input = await openBytes(file, validator);
    pending = readAhead(input);
    for (;;) {
      signal.throwIfAborted();
      const read = await pending;
      pending = null;
      if (read === 0) break;
      const target = buffers[turn];
      let buf: Uint8Array;
      if (carried.length <= CARRY_BYTES) {
        target.set(carried, CARRY_BYTES - carried.length);
        buf = target.subarray(CARRY_BYTES - carried.length, CARRY_BYTES + read);
      } else {
        buf = new Uint8Array(carried.length + read);
        buf.set(carried, 0);
        buf.set(target.subarray(CARRY_BYTES, CARRY_BYTES + read), carried.length);
      }
      turn ^= 1;
      pending = readAhead(input);
      if (!bomChecked && buf.length < 3) {
        carried = buf;
        continue;
      }
      const chunk = chunkOf(buf, false);
      onProgress?.(input.diskBytes());
      yield chunk;
      carried = buf.subarray(chunk.rest);
      base += chunk.rest;
    }
    validator?.end();
    if (carried.length > 0) yield chunkOf(carried, true);
  } catch (error) {
    throw readError(file, error);
  } finally {
    if (pending !== null) await pending.catch(() => {});
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

/** The text of field `k` of a table (an index into its field arrays), quotes collapsed. */
function fieldText(text: FieldText, buf: Uint8Array, table: FieldTable, k: number): string {
  return text.of(buf, table.starts[k], table.ends[k], (table.flags[k] & ESCAPED) !== 0);
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
    for await (const chunk of readChunks(file, options, signal)) {
      table.reset();
      let error: unknown = null;
      try {
        chunk.rest = scanner.scanTable(chunk.buf, chunk.position, chunk.base, chunk.final, table);
      } catch (caught) {
        error = caught;
      }
      const scanned = { buf: chunk.buf, base: chunk.base, table };
      for (let r = 0; r < table.length; r++) {
        if (expected < 0) expected = table.fieldCount[r];
        else if (table.fieldCount[r] !== expected) return fieldCountAt(file, scanner, scanned, r, expected);
      }
      if (error !== null) {
        const located = withPrefix(file, error);
        return located instanceof SluiceError ? located : null;
      }
    }
  } catch (error) {
    return error instanceof SluiceError ? error : null;
  }
  return null;
}

/** Records the fast engine read (header excluded), and how many of them the fused loop took. */
export interface FastTally {
  records: number;
  fused: number;
}

export async function* readFastBatches(
  file: string,
  plans: ColumnPlan[],
  options: ResolvedCsvOptions,
  context: SourceContext,
  progress: (bytes: number) => void,
  tally: FastTally = { records: 0, fused: 0 },
): AsyncGenerator<Batch> {
  const reader = new FastReader(file, plans, options, context, tally);
  for await (const chunk of readChunks(file, options, context.signal, progress)) yield* reader.read(chunk);
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
  /** The fused record loop, once the header (the field count) is known. */
  private fused: FusedRecords | null = null;
  /** The scanner's output for the records the fused loop leaves, and how many it takes next (see FIRST_SCANNER_STEP). */
  private readonly table = new FieldTable();
  private step = FIRST_SCANNER_STEP;

  constructor(
    private readonly file: string,
    private readonly plans: ColumnPlan[],
    private readonly options: ResolvedCsvOptions,
    private readonly context: SourceContext,
    private readonly tally: FastTally,
  ) {
    this.scanner = newScanner(file, options);
    this.widen = (column, from, to, value, line) =>
      context.warn(`column ${JSON.stringify(column)} widened from ${from} to ${to} at value ${JSON.stringify(value)} (${file}${line ? `:${line}` : ''})`);
    this.decoder = new RowDecoder(plans, context.batchRows(), this.widen);
    this.quote = options.quote.charCodeAt(0);
    this.text = new FieldText(options.encoding === 'latin1', this.quote);
    this.strings = plans.map(() => new StringCache());
    this.values = new Array(plans.length);
    if (options.header !== true) this.setHeader(options.header);
  }

  private setHeader(header: readonly string[]): void {
    this.header = header;
    this.positions = positionsOf(this.file, this.plans, header);
    const dialect = { delimiter: this.options.delimiter.charCodeAt(0), quote: this.quote, maxRecordBytes: this.options.maxRecordBytes };
    this.fused = new FusedRecords(this.plans, this.positions, header.length, dialect, this.text, this.strings);
  }

  /**
   * Converts the complete records of one chunk and sets its `rest`; yields each batch as it fills. The
   * fused loop takes what it can; the scanner and the column loops take the header, the records it
   * stops at (a few at a time, then it tries again) and the tail after the last line feed.
   */
  async *read(chunk: Chunk): AsyncGenerator<Batch> {
    const { buf, base, final } = chunk;
    const limit = buf.lastIndexOf(LF) + 1;
    let position = chunk.position;
    for (;;) {
      this.context.signal.throwIfAborted();
      const fused = this.fused !== null && position < limit && this.fused.prepare(this.decoder.builders);
      if (fused) {
        const decoder = this.decoder;
        const room = Math.min(decoder.capacity - decoder.length, FUSED_BLOCK_ROWS);
        const rows = this.fused!.run(buf, position, limit, this.scanner.line, decoder.builders, decoder.lines, decoder.length, room);
        if (rows > 0) {
          decoder.commitRows(rows);
          this.tally.fused += rows;
          this.tally.records += rows;
          position = this.fused!.position;
          this.scanner.advance(this.fused!.line, base + position);
          if (rows >= WORTH_ROWS) this.step = FIRST_SCANNER_STEP;
          if (decoder.full) yield this.flush();
          continue;
        }
      }
      const table = this.table;
      table.reset();
      const maxRecords = this.header === undefined ? 1 : fused ? this.step : Infinity;
      let error: unknown = null;
      let rest = position;
      try {
        rest = this.scanner.scanTable(buf, position, base, final, table, maxRecords);
      } catch (caught) {
        error = caught;
      }
      yield* this.convert({ buf, base, table });
      if (error !== null) throw withPrefix(this.file, error);
      if (table.length < maxRecords) {
        chunk.rest = rest;
        return;
      }
      position = rest;
      this.step = Math.min(this.step * 2, LAST_SCANNER_STEP);
    }
  }

  /** The batch filled so far; the next one gets fresh builders. */
  private flush(): Batch {
    const batch = this.decoder.flush({ file: this.file });
    // flush() left fresh builders; a new decoder only when the budget changed the batch size.
    const rows = this.context.batchRows();
    if (rows !== this.decoder.capacity) this.decoder = new RowDecoder(this.plans, rows, this.widen);
    return batch;
  }

  /** Converts every record of a scanner table; yields each batch as it fills. */
  private async *convert(scanned: ScannedBuffer): AsyncGenerator<Batch> {
    const { table, buf } = scanned;
    let r = 0;
    let header = this.header;
    if (header === undefined) {
      if (table.length === 0) return;
      const names: string[] = [];
      const first = table.fieldBase[0];
      for (let k = 0; k < table.fieldCount[0]; k++) names.push(fieldText(this.text, buf, table, first + k));
      this.setHeader(names);
      header = names;
      r = 1;
    }
    this.tally.records += table.length - r;
    const expected = header.length;
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
      if (this.decoder.full) yield this.flush();
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
    for (let c = 0; c < positions.length; c++) values[c] = fieldText(this.text, buf, table, first + positions[c]);
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
  if (!byteLoopsApply(plan, builder)) return from;
  const nullable = nullsAllowed(plan);
  switch (plan.dtype) {
    case 'string':
      return convertStrings(plan, builder, position, table, buf, from, to, out, nullable, text, strings);
    case 'dictionary':
      return convertDictionary(byteDictionaryOf(plan.dictionary!), builder, position, table, buf, from, to, out, nullable);
    case 'bool':
      return convertBooleans(builder, position, table, buf, from, to, out, nullable);
    case 'timestamp':
      return convertTimestamps(builder, position, table, buf, from, to, out, nullable, shapeOf(plan));
    case 'date':
      return convertDates(builder, position, table, buf, from, to, out, nullable, shapeOf(plan));
    default: {
      const { integer, lo, hi, loStrict, hiStrict } = numericRange(plan);
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
      value = fieldText(text, buf, table, k);
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
