/**
 * The fast CSV engine: bytes → typed columns without a string per field.
 *
 * Per chunk of input (chunks.ts), the fused loop (fused.ts) takes the records it can, parsing each field
 * straight into its column in one pass. The records it leaves, the header and the incomplete tail go to
 * the scanner, which fills a FieldTable (start/end/flags of every field), and to the column loops
 * (column-loops.ts), which convert each planned column in its own loop. Unplanned columns are never
 * decoded.
 *
 * Semantics are RowDecoder's, not a copy of them: the byte paths accept only values whose outcome is
 * certain and side-effect free (a number that parses and fits its bounds, a known dictionary entry, a
 * null in a nullable column, …). The first row with any other value (a violation, a value that widens
 * an inferred column, a zod check, a default, an unknown dictionary entry) stops them; the rows before
 * it are committed, and that row goes through `RowDecoder.append` as text, exactly as the csv-parse
 * engine would hand it over. So both engines give the same batches, rejects and warnings.
 */
import type { Batch } from '../../batch/batch.ts';
import { type ErrorLocation, SluiceError } from '../../core/errors.ts';
import type { RowDecoder, Violation } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { StringCache } from '../../codec/byte-dictionary.ts';
import { type FileReadContext, RangeMisaligned } from '../files/file-source.ts';
import { countLines } from '../files/line-count.ts';
import { type Chunk, readChunks } from './chunks.ts';
import { convertColumn, fieldText } from './column-loops.ts';
import { byteDictionaryOf, FieldText, rollBack } from './column-rules.ts';
import { FUSED_BLOCK_ROWS, FusedRecords } from './fused.ts';
import { fieldCountError, positionsOf } from './header.ts';
import type { ResolvedCsvOptions } from './options.ts';
import { CsvScanner, FieldTable, type FieldSink } from './scanner.ts';

export const fastEngineAvailable = true;

/** Rows converted column by column before committing: bounds the work redone after a slow value. */
const BLOCK_ROWS = 1024;
const QUOTED = 1;
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
 * about as much as the fused loop saves on 4 records (measured: ~1.1 us a switch, ~0.25 us saved a
 * record), so after a run of fewer than WORTH_ROWS records the scanner takes twice as many next time,
 * up to LAST_SCANNER_STEP; a longer run sets it back to one. A file with one hard record in ten stays
 * ~90% on the fused loop; one that alternates goes to the scanner instead of switching every record.
 */
const FIRST_SCANNER_STEP = 1;
const LAST_SCANNER_STEP = 1 << 16;
const WORTH_ROWS = 4;

const NO_SINK: FieldSink = { field() {}, endRecord() {} };

/** Scanner errors carry their location; the message gets the file:line:column prefix the other CSV errors have. */
function withPrefix(file: string, error: unknown): unknown {
  if (!(error instanceof SluiceError) || error.details.file === undefined) return error;
  const { line, column } = error.details;
  if (error.message.startsWith(`${file}:`)) return error;
  return new SluiceError(error.code, `${file}:${line}${column === undefined ? '' : `:${column}`}: ${error.message}`, error.details);
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
  context: FileReadContext,
  tally: FastTally = { records: 0, fused: 0 },
): AsyncGenerator<Batch> {
  const range = context.range;
  // A range after the header reads its records under the header the first range read.
  const settings = range?.header === undefined ? options : { ...options, header: range.header };
  const reader = new FastReader(file, plans, settings, context, tally);
  try {
    for await (const chunk of readChunks(file, settings, context.signal, context.progress, range)) yield* reader.read(chunk);
  } catch (error) {
    if (!(error instanceof RangeMisaligned)) throw error;
    // The range ended in a record (or in a quoted field after a line feed). Before it, every record is
    // the file's: hand them on, and say where the open one starts and on which line. A range that had
    // not read its header yet is read again from its start.
    if (!reader.hasHeader) throw new RangeMisaligned(file, range!.start, range!.firstLine);
    const last = reader.finish();
    if (last !== null) yield last;
    // Counted, not taken from the scanner: a range that ends between a CR and its LF has its CR
    // counted as a line break of its own by the scanner, which cannot see the LF.
    error.resumeLine = range!.firstLine + (await countLines(file, range!.start, error.resumeAt));
    throw error;
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
  private readonly quote: number;
  /** The fused record loop, once the header (the field count) is known. */
  private fused: FusedRecords | null = null;
  /** The scanner's output for the records the fused loop leaves, and how many it takes next (see FIRST_SCANNER_STEP). */
  private readonly table = new FieldTable();
  private step = FIRST_SCANNER_STEP;
  /** A row the column loops rejected, to be written by the async part of the conversion. */
  private rejected: { violation: Violation; location: ErrorLocation } | null = null;

  private readonly file: string;
  private readonly plans: ColumnPlan[];
  private readonly options: ResolvedCsvOptions;
  private readonly context: FileReadContext;
  private readonly tally: FastTally;
  constructor(
    file: string,
    plans: ColumnPlan[],
    options: ResolvedCsvOptions,
    context: FileReadContext,
    tally: FastTally,
  ) {
    this.file = file;
    this.plans = plans;
    this.options = options;
    this.context = context;
    this.tally = tally;
    this.scanner = newScanner(file, options);
    if (context.range !== undefined) this.scanner.advance(context.range.firstLine, context.range.start);
    this.decoder = context.decoder();
    this.quote = options.quote.charCodeAt(0);
    this.text = new FieldText(options.encoding === 'latin1', this.quote);
    this.strings = stringCaches(plans);
    this.values = new Array(plans.length);
    if (options.header !== true) this.setHeader(options.header);
  }

  get hasHeader(): boolean {
    return this.header !== undefined;
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
        // The decoder's room, not its free capacity: it is smaller near the source's --limit.
        const room = Math.min(decoder.room, FUSED_BLOCK_ROWS);
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
      const pending = this.convertTable({ buf, base, table });
      if (pending !== null) yield* pending;
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
    if (rows !== this.decoder.capacity) this.decoder = this.context.decoder(rows);
    return batch;
  }

  /**
   * Converts every record of a scanner table. Synchronously as far as it can: a generator (and its
   * promises) per scanner step cost more than the few records a step takes after the fused loop stops;
   * only a reject to write or a full batch to hand on goes through {@link convertRest}.
   */
  private convertTable(scanned: ScannedBuffer): AsyncGenerator<Batch> | null {
    const { table, buf } = scanned;
    let r = 0;
    if (this.header === undefined) {
      if (table.length === 0) return null;
      const names: string[] = [];
      const first = table.fieldBase[0];
      for (let k = 0; k < table.fieldCount[0]; k++) names.push(fieldText(this.text, buf, table, first + k));
      this.setHeader(names);
      r = 1;
    }
    r = this.convertRows(scanned, r);
    return r < table.length || this.rejected !== null || this.decoder.full ? this.convertRest(scanned, r) : null;
  }

  private async *convertRest(scanned: ScannedBuffer, r: number): AsyncGenerator<Batch> {
    for (;;) {
      if (this.rejected !== null) {
        const { violation, location } = this.rejected;
        this.rejected = null;
        await this.context.reject(violation, location);
      }
      if (this.decoder.full) yield this.flush();
      if (r >= scanned.table.length) return;
      r = this.convertRows(scanned, r);
    }
  }

  /**
   * Converts table records from `r` on until the end, a full batch, or a rejected row (left in
   * {@link rejected} for the caller to write); returns the next record to convert.
   */
  private convertRows(scanned: ScannedBuffer, from: number): number {
    const next = this.convertRecords(scanned, from);
    // Counted as converted, not as scanned: records past the limit are scanned but never read.
    this.tally.records += next - from;
    return next;
  }

  private convertRecords(scanned: ScannedBuffer, r: number): number {
    const table = scanned.table;
    const expected = this.header!.length;
    const fieldCount = table.fieldCount;
    while (r < table.length) {
      this.context.signal.throwIfAborted();
      let end = Math.min(table.length, r + this.decoder.room);
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
          this.slowRow(scanned, r);
          r++;
          if (this.rejected !== null) return r;
        }
      }
      if (bad >= 0) throw fieldCountAt(this.file, this.scanner, scanned, bad, expected);
      if (this.decoder.full) return r;
    }
    return r;
  }

  finish(): Batch | null {
    return this.decoder.length > 0 ? this.decoder.flush({ file: this.file }) : null;
  }

  /**
   * One row through RowDecoder as text: the csv-parse engine's path, for values the byte loops leave. A
   * row that breaks its rule is left in {@link rejected}.
   */
  private slowRow(scanned: ScannedBuffer, r: number): void {
    const { table, buf } = scanned;
    const first = table.fieldBase[r];
    const positions = this.positions;
    const values = this.values;
    for (let c = 0; c < positions.length; c++) values[c] = fieldText(this.text, buf, table, first + positions[c]);
    const line = table.line[r];
    const violation = this.decoder.append(values, line);
    if (violation !== null) {
      this.rejected = { violation, location: { file: this.file, line, column: violation.column } };
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
 * Per planned column, its cache of recent strings. A cache is ~15 KB: one per column of a file of
 * 10,000 columns was 150 MB before the first row. String columns get their own, up to
 * OWN_STRING_CACHES of them; the other columns (which may widen to strings) share one. A cache is keyed
 * by the bytes, so sharing one only costs hits, never a wrong value.
 */
const OWN_STRING_CACHES = 64;

function stringCaches(plans: readonly ColumnPlan[]): StringCache[] {
  const shared = new StringCache();
  let own = 0;
  return plans.map((plan) => (plan.dtype === 'string' && own++ < OWN_STRING_CACHES ? new StringCache() : shared));
}
