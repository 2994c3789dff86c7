/**
 * RFC 4180 record scanner over bytes: the hot path of the CSV source. Pure and transport-free: feed it
 * chunks with `push`, finish with `end`; it reports fields as byte ranges and never makes a string.
 *
 * Decisions (the csv-parse fallback engine must use the matching options, see {@link CSV_PARSE_OPTIONS}):
 * - Line breaks: LF, CRLF and a lone CR all end a record (csv-parse `record_delimiter: ['\r\n','\n','\r']`,
 *   Python's universal newlines). Mixing them in one file is allowed. Inside quotes they are data.
 * - Empty lines (zero bytes between two line breaks) are skipped by default (`skipEmptyLines`), like
 *   csv-parse `skip_empty_lines: true` and pandas. csv-parse's default would turn them into a record with
 *   one empty field, which breaks every multi-column file. A line of spaces is not empty.
 * - A UTF-8 BOM is skipped only at the very start of the input; anywhere else it is data.
 * - Strict quoting: a quote inside an unquoted field, or a closing quote followed by anything but a
 *   delimiter, a line break or the end, is `CSV_INVALID_QUOTE`.
 * - `line` counts physical lines (line breaks inside quoted fields count); `column` is 1-based and counts
 *   Unicode code points from the start of the physical line.
 *
 * This file is long on purpose: the scanner is one state machine whose states share locals in one loop,
 * and splitting it across files would split the loop.
 */
import { SluiceError, type ErrorLocation } from '../../core/errors.ts';

export interface CsvDialect {
  /** Field delimiter byte. @default 0x2c (`,`) */
  delimiter: number;
  /** Quote byte. @default 0x22 (`"`) */
  quote: number;
}

export interface FieldSink {
  /**
   * One field of the current record. `buf[start, end)` are its bytes, only valid during the call (copy
   * what you keep); `buf` is always a plain Uint8Array, never a Buffer, so parsers stay monomorphic. For a quoted field the surrounding quotes are excluded; when `escapedQuotes` is true
   * the bytes still contain doubled quotes to collapse (see `collapseQuotes`). `quoted` tells `""`
   * (empty string) from an empty unquoted field (null). Fields are reported only once their whole
   * record has been scanned, so a record that fails never reaches the sink.
   */
  field(index: number, buf: Uint8Array, start: number, end: number, quoted: boolean, escapedQuotes: boolean): void;
  /**
   * After the last field of a record. `line` is the 1-based physical line the record starts on,
   * `byteOffset` its offset in the whole input. The scanner does not check field counts: use
   * {@link CsvScanner.locateField} to point at an extra or missing field. Return `false` to stop.
   */
  endRecord(fieldCount: number, line: number, byteOffset: number): boolean | void;
}

export interface CsvScannerOptions {
  dialect?: Partial<CsvDialect>;
  /**
   * Largest record, in bytes without its line break. A longer one fails with `CSV_RECORD_TOO_LARGE` as
   * soon as the limit is passed, so an unclosed quote in a huge file costs at most this much memory.
   * @default 16 MiB — far above real records, small enough that a runaway quote fails fast.
   */
  maxRecordBytes?: number;
  /** Skip lines with no bytes at all. @default true */
  skipEmptyLines?: boolean;
  /** Input name for error locations. */
  file?: string;
}

/** csv-parse options that make it read exactly what {@link CsvScanner} reads with default options. */
export const CSV_PARSE_OPTIONS = {
  bom: true,
  record_delimiter: ['\r\n', '\n', '\r'],
  skip_empty_lines: true,
  relax_column_count: true,
} as const;

export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * The batch form of the scanner's output: the field positions of every complete record of one buffer,
 * filled by {@link CsvScanner.scanTable} without a call per field. Consumers then convert one column at a
 * time in its own tight loop (the Arrow/DuckDB way), which keeps each loop monomorphic.
 *
 * Positions index the buffer given to `scanTable`; a quoted field's range excludes its quotes.
 */
export class FieldTable {
  /** Records in the table. */
  length = 0;
  /** Per record: index of its first field in `starts`/`ends`/`flags`, field count, 1-based line, start in the buffer. */
  fieldBase = new Int32Array(1024);
  fieldCount = new Int32Array(1024);
  line = new Int32Array(1024);
  recordStart = new Int32Array(1024);
  /** Per field. `flags`: 1 quoted, 3 quoted with doubled quotes inside. */
  starts = new Int32Array(16384);
  ends = new Int32Array(16384);
  flags = new Uint8Array(16384);
  private fields = 0;

  reset(): void {
    this.length = 0;
    this.fields = 0;
  }

  /** Fields written so far: the scanner writes the next record's fields from here on. */
  get fieldsUsed(): number {
    return this.fields;
  }

  /**
   * Appends a record whose `count` fields the scanner already wrote at `starts/ends/flags[fieldsUsed…]`
   * (it writes straight into the table: no copy per record).
   */
  commit(count: number, line: number, recordStart: number): void {
    const r = this.length;
    if (r === this.fieldBase.length) this.growRecords();
    this.fieldBase[r] = this.fields;
    this.fieldCount[r] = count;
    this.line[r] = line;
    this.recordStart[r] = recordStart;
    this.fields += count;
    this.length = r + 1;
  }

  private growRecords(): void {
    const grow = (array: Int32Array) => {
      const next = new Int32Array(array.length * 2);
      next.set(array);
      return next;
    };
    this.fieldBase = grow(this.fieldBase);
    this.fieldCount = grow(this.fieldCount);
    this.line = grow(this.line);
    this.recordStart = grow(this.recordStart);
  }

  /** Room for at least `needed` fields, keeping the ones written. */
  growFields(needed: number): void {
    ({ starts: this.starts, ends: this.ends, flags: this.flags } = grownFields(this.starts, this.ends, this.flags, needed));
  }
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTED = 1;
const ESCAPED = 2;
/** Sentinel returned by the record loop when the sink asked to stop. */
const STOPPED = -1;

export class CsvScanner {
  private readonly sink: FieldSink;
  private readonly delimiter: number;
  private readonly quote: number;
  private readonly maxRecordBytes: number;
  private readonly skipEmptyLines: boolean;
  private readonly file: string | undefined;
  /** 1 for the bytes that end an unquoted field: delimiter, quote, CR, LF. One load per byte. */
  private readonly unquotedStop = new Uint8Array(256);

  // Fields of the record being scanned; reported once the record is complete.
  private fieldStarts = new Int32Array(64);
  private fieldEnds = new Int32Array(64);
  private fieldFlags = new Uint8Array(64);

  /** The partial record carried from one chunk to the next (one copy, reused). */
  private carry = new Uint8Array(0);
  private carryLength = 0;
  /** Input offset of carry[0]. */
  private carryOffset = 0;
  /** Input offset of the next chunk's first byte. */
  private inputOffset = 0;
  /** Up to 3 first bytes held until we know whether they are a BOM. */
  private head: Uint8Array | null = new Uint8Array(3);
  private headLength = 0;
  /** A record ended with CR at the end of a buffer: an LF starting the next one belongs to it. */
  private skipLineFeed = false;
  private nextLine = 1;
  private consumed = 0;
  private stoppedBySink = false;
  private ended = false;
  /** Where the unclosed quoted field of an incomplete record opened (index in its buffer), or -1. */
  private openQuote = -1;
  /** Set during {@link scanTable}: records go to the table instead of the sink, at most maxRecords. */
  private table: FieldTable | null = null;
  private maxRecords = Infinity;

  // The record being reported, for locate(): valid during sink callbacks and while building errors.
  private recordBuf: Uint8Array = new Uint8Array(0);
  private recordBase = 0;
  private recordStart = 0;
  private recordLine = 1;

  constructor(sink: FieldSink, options: CsvScannerOptions = {}) {
    const delimiter = options.dialect?.delimiter ?? 0x2c;
    const quote = options.dialect?.quote ?? 0x22;
    for (const [name, value] of [['delimiter', delimiter], ['quote', quote]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > 0x7f || value === LF || value === CR) {
        throw new SluiceError('INVALID_OPTION', `Expected \`dialect.${name}\` to be an ASCII byte value other than CR and LF, got ${String(value)}`);
      }
    }
    if (delimiter === quote) throw new SluiceError('INVALID_OPTION', 'Expected `dialect.delimiter` and `dialect.quote` to differ');
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1 || maxRecordBytes > 0x7fffffff - 16) {
      throw new SluiceError('INVALID_OPTION', `Expected \`maxRecordBytes\` to be an integer from 1 to 2 GiB, got ${String(maxRecordBytes)}`);
    }
    this.sink = sink;
    this.delimiter = delimiter;
    this.quote = quote;
    this.maxRecordBytes = maxRecordBytes;
    this.skipEmptyLines = options.skipEmptyLines ?? true;
    this.file = options.file;
    this.unquotedStop[delimiter] = 1;
    this.unquotedStop[quote] = 1;
    this.unquotedStop[CR] = 1;
    this.unquotedStop[LF] = 1;
  }

  /** 1-based physical line the next record starts on (lines consumed + 1). */
  get line(): number {
    return this.nextLine;
  }

  /** Input bytes fully processed (complete records, skipped lines, BOM). */
  get bytesConsumed(): number {
    return this.consumed;
  }

  /** Bytes held for a partial record; never more than `maxRecordBytes + 1`. */
  get bufferedBytes(): number {
    return this.carryLength + this.headLength;
  }

  /** Bytes allocated for the partial record (what memory it costs). */
  get bufferCapacity(): number {
    return this.carry.length;
  }

  /** True once the sink returned false from `endRecord`; later pushes are ignored. */
  get stopped(): boolean {
    return this.stoppedBySink;
  }

  /** Feed the next chunk. Complete records are reported; the partial one at the end is kept (copied). */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new SluiceError('INVALID_OPTION', 'CsvScanner.push() called after end()');
    if (this.stoppedBySink || chunk.length === 0) return;
    // Hand the sink one kind of array: a Buffer has its own map, and mixing it with the Uint8Array carry
    // makes every byte access in the scanner and the value parsers polymorphic (measured 2-3x slower).
    let data = chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    let position = 0;
    if (this.head !== null) {
      // Until 3 bytes are seen we cannot tell a BOM from data.
      if (this.headLength + chunk.length < 3 && isBomPrefix(this.head, this.headLength, chunk)) {
        this.head.set(chunk, this.headLength);
        this.headLength += chunk.length;
        return;
      }
      if (this.headLength > 0) {
        data = new Uint8Array(this.headLength + chunk.length);
        data.set(this.head.subarray(0, this.headLength), 0);
        data.set(chunk, this.headLength);
      }
      this.head = null;
      this.headLength = 0;
      if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) position = 3;
      this.consumed = position;
    }
    if (this.carryLength > 0) {
      position = this.completeCarry(data);
      if (position === STOPPED || position === data.length) return;
    }
    const base = this.inputOffset;
    const rest = this.scan(data, position, data.length, base, false);
    this.inputOffset = base + data.length;
    if (rest === STOPPED) return;
    if (rest < data.length) {
      const length = data.length - rest;
      if (length > this.maxRecordBytes) this.throwTooLarge(data, base, rest, this.nextLine);
      this.ensureCarry(length);
      this.carry.set(data.subarray(rest), 0);
      this.carryLength = length;
      this.carryOffset = base + rest;
    }
  }

  /** End of input: reports a last record without a final line break; throws on an unclosed quote. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stoppedBySink) return;
    if (this.head !== null && this.headLength > 0) {
      const data = this.head.slice(0, this.headLength);
      this.head = null;
      this.headLength = 0;
      this.scan(data, 0, data.length, 0, true);
      return;
    }
    this.head = null;
    if (this.carryLength > 0) {
      const length = this.carryLength;
      this.scan(this.carry, 0, length, this.carryOffset, true);
      this.carryLength = 0;
      this.releaseCarry();
    }
  }

  /**
   * Batch mode: scans the complete records of `buf[position, buf.length)` into `table` (appending) and
   * returns where the trailing incomplete record starts (`buf.length` when there is none). `base` is the
   * input offset of `buf[0]`. The caller keeps the incomplete tail and passes it again, followed by the
   * next chunk, as the start of the next buffer; `final` says the buffer ends the input. Line counting
   * and CR/LF pairs split across buffers are handled here; the BOM and the carry are the caller's
   * (push/end must not be mixed with this). Throws the scanner's errors; the records completed before
   * the error are in the table. A tail longer than `maxRecordBytes` fails with CSV_RECORD_TOO_LARGE.
   * With `maxRecords`, stops once the table holds that many records and returns where the next starts.
   */
  scanTable(buf: Uint8Array, position: number, base: number, final: boolean, table: FieldTable, maxRecords = Infinity): number {
    this.table = table;
    this.maxRecords = maxRecords;
    try {
      const rest = this.scan(buf, position, buf.length, base, final);
      if (table.length < maxRecords && rest < buf.length && buf.length - rest > this.maxRecordBytes) this.throwTooLarge(buf, base, rest, this.nextLine);
      return rest;
    } finally {
      this.table = null;
    }
  }

  /**
   * Records up to input offset `consumed` were read by someone else (the fast engine's fused loop, which
   * takes only records that end in a line break); the next record starts on `line`.
   */
  advance(line: number, consumed: number): void {
    this.nextLine = line;
    this.consumed = consumed;
  }

  /** Line, column and byte offset of `buf[position]` in the record of `table` that starts at `recordStart` on `recordLine`. */
  locateIn(buf: Uint8Array, base: number, recordStart: number, recordLine: number, position: number): ErrorLocation {
    return this.locate(buf, base, recordStart, recordLine, position);
  }

  /**
   * Where field `index` of the record being reported starts (its opening quote, if quoted): the
   * `file`, `line`, `column` and `byteOffset` for a `SluiceError`. Only valid inside sink callbacks.
   */
  locateField(index: number): ErrorLocation {
    const start = this.fieldStarts[index] - (this.fieldFlags[index] & QUOTED);
    return this.locate(this.recordBuf, this.recordBase, this.recordStart, this.recordLine, start);
  }

  /**
   * Completes the carried partial record with the head of `chunk`. Appends a slice that doubles the
   * carry each round and rescans it, so a huge record costs O(size) and never more than
   * `maxRecordBytes + 1` bytes. Returns where scanning `chunk` resumes.
   */
  private completeCarry(chunk: Uint8Array): number {
    let taken = 0;
    for (;;) {
      const oldLength = this.carryLength;
      const room = this.maxRecordBytes + 1 - oldLength;
      const want = Math.min(chunk.length - taken, Math.max(oldLength, 4096), room);
      if (want <= 0) this.throwTooLarge(this.carry, this.carryOffset, 0, this.nextLine);
      this.ensureCarry(oldLength + want);
      this.carry.set(chunk.subarray(taken, taken + want), oldLength);
      this.carryLength = oldLength + want;
      taken += want;
      const rest = this.scan(this.carry, 0, this.carryLength, this.carryOffset, false);
      if (rest === STOPPED) {
        this.inputOffset += chunk.length;
        return STOPPED;
      }
      if (rest > 0) {
        // The carried record ended inside the appended bytes: carry[rest..] are chunk bytes, rescan them there.
        this.carryLength = 0;
        this.releaseCarry();
        const resume = rest - oldLength;
        if (resume === chunk.length) this.inputOffset += chunk.length;
        return resume;
      }
      if (this.carryLength > this.maxRecordBytes) this.throwTooLarge(this.carry, this.carryOffset, 0, this.nextLine);
      if (taken === chunk.length) {
        this.inputOffset += chunk.length;
        return chunk.length;
      }
    }
  }

  private ensureCarry(length: number): void {
    if (length <= this.carry.length) return;
    const capacity = Math.min(Math.max(length, this.carry.length * 2, 4096), this.maxRecordBytes + 1);
    const next = new Uint8Array(capacity);
    next.set(this.carry.subarray(0, this.carryLength), 0);
    this.carry = next;
  }

  /** Give back a carry buffer grown by a big record. */
  private releaseCarry(): void {
    if (this.carry.length > 1 << 20) this.carry = new Uint8Array(0);
  }

  private growFields(): void {
    ({ starts: this.fieldStarts, ends: this.fieldEnds, flags: this.fieldFlags } = grownFields(
      this.fieldStarts,
      this.fieldEnds,
      this.fieldFlags,
      this.fieldStarts.length + 1,
    ));
  }

  /**
   * Scans complete records in `buf[position, end)`. Returns the start of the trailing incomplete record
   * (`end` when there is none) or STOPPED. With `final`, the end of the buffer ends the input.
   *
   * One long function on purpose: the state lives in locals so V8 keeps it in registers.
   */
  private scan(buf: Uint8Array, position: number, end: number, base: number, final: boolean): number {
    const delimiter = this.delimiter;
    const quote = this.quote;
    const stop = this.unquotedStop;
    const skipEmptyLines = this.skipEmptyLines;
    const maxRecordBytes = this.maxRecordBytes;
    // Fields go straight into the table in batch mode (from its first free slot), else into the record's
    // own arrays from 0. `f` is the write cursor; a record's fields are [fieldBase, f).
    const table = this.table;
    let starts = table !== null ? table.starts : this.fieldStarts;
    let ends = table !== null ? table.ends : this.fieldEnds;
    let flags = table !== null ? table.flags : this.fieldFlags;
    let capacity = starts.length;
    let fieldBase = table !== null ? table.fieldsUsed : 0;
    let line = this.nextLine;
    let i = position;
    this.openQuote = -1;

    if (this.skipLineFeed && i < end) {
      this.skipLineFeed = false;
      if (buf[i] === LF) i++;
    }

    records: while (i < end) {
      const recordStart = i;
      const recordLine = line;
      let c = buf[i];
      if (skipEmptyLines && (c === LF || c === CR)) {
        i++;
        line++;
        if (c === CR) {
          if (i < end) {
            if (buf[i] === LF) i++;
          } else if (!final) this.skipLineFeed = true;
        }
        continue;
      }
      let f = fieldBase;
      let recordEnd: number;
      for (;;) {
        if (f === capacity) {
          if (table !== null) {
            table.growFields(capacity + 1);
            starts = table.starts;
            ends = table.ends;
            flags = table.flags;
          } else {
            this.growFields();
            starts = this.fieldStarts;
            ends = this.fieldEnds;
            flags = this.fieldFlags;
          }
          capacity = starts.length;
        }
        if (i >= end) {
          // Only after a delimiter: the last field is empty.
          if (!final) return this.keepIncomplete(base, recordStart, recordLine);
          starts[f] = i;
          ends[f] = i;
          flags[f++] = 0;
          recordEnd = i;
          break;
        }
        c = buf[i];
        if (c === quote) {
          const open = i;
          let flag = QUOTED;
          i++;
          const start = i;
          for (;;) {
            while (i < end) {
              c = buf[i];
              if (c === quote) break;
              if (c === LF) line++;
              else if (c === CR && (i + 1 >= end || buf[i + 1] !== LF)) line++;
              i++;
            }
            if (i + 1 >= end) {
              // The quote is not closed yet, or we cannot see whether the quote at the end is doubled.
              if (!final) {
                this.openQuote = open;
                return this.keepIncomplete(base, recordStart, recordLine);
              }
              if (i >= end) this.throwQuoteNotClosed(buf, base, recordStart, recordLine, open, end);
              break;
            }
            if (buf[i + 1] !== quote) break;
            flag = QUOTED | ESCAPED;
            i += 2;
          }
          starts[f] = start;
          ends[f] = i;
          flags[f++] = flag;
          i++;
          if (i >= end) {
            if (!final) return this.keepIncomplete(base, recordStart, recordLine);
            recordEnd = i;
            break;
          }
          c = buf[i];
          if (c === delimiter) {
            i++;
            continue;
          }
          if (c !== LF && c !== CR) this.throwInvalidClosingQuote(buf, base, recordStart, recordLine, open, i);
        } else {
          const start = i;
          while (i < end && stop[buf[i]] === 0) i++;
          if (i >= end) {
            if (!final) return this.keepIncomplete(base, recordStart, recordLine);
            starts[f] = start;
            ends[f] = i;
            flags[f++] = 0;
            recordEnd = i;
            break;
          }
          starts[f] = start;
          ends[f] = i;
          flags[f++] = 0;
          c = buf[i];
          if (c === delimiter) {
            i++;
            continue;
          }
          if (c === quote) this.throwQuoteInUnquotedField(buf, base, recordStart, recordLine, i);
        }
        // c is CR or LF: the record ends here.
        recordEnd = i;
        i++;
        line++;
        if (c === CR) {
          if (i < end) {
            if (buf[i] === LF) i++;
          } else if (!final) this.skipLineFeed = true;
        }
        break;
      }

      if (recordEnd - recordStart > maxRecordBytes) this.throwTooLarge(buf, base, recordStart, recordLine);
      this.recordBuf = buf;
      this.recordBase = base;
      this.recordStart = recordStart;
      this.recordLine = recordLine;
      this.nextLine = line;
      this.consumed = base + i;
      const count = f - fieldBase;
      if (table !== null) {
        table.commit(count, recordLine, recordStart);
        if (table.length >= this.maxRecords) return i;
        fieldBase = f;
        continue records;
      }
      const sink = this.sink;
      for (let k = 0; k < count; k++) {
        const flag = flags[k];
        sink.field(k, buf, starts[k], ends[k], flag !== 0, flag === (QUOTED | ESCAPED));
      }
      if (sink.endRecord(count, recordLine, base + recordStart) === false) {
        this.stoppedBySink = true;
        return STOPPED;
      }
      continue records;
    }
    this.nextLine = line;
    this.consumed = base + end;
    return end;
  }

  /** The record at `recordStart` needs more input: rewind to it. */
  private keepIncomplete(base: number, recordStart: number, recordLine: number): number {
    this.nextLine = recordLine;
    this.consumed = base + recordStart;
    return recordStart;
  }

  // ---- errors (cold) ----

  /** Line, column and byte offset of `position` in a record that starts at `recordStart` on `recordLine`. */
  private locate(buf: Uint8Array, base: number, recordStart: number, recordLine: number, position: number): ErrorLocation {
    let line = recordLine;
    let lineStart = recordStart;
    for (let i = recordStart; i < position; i++) {
      const c = buf[i];
      if (c === LF || (c === CR && buf[i + 1] !== LF)) {
        line++;
        lineStart = i + 1;
      }
    }
    let column = 1;
    for (let i = lineStart; i < position; i++) if ((buf[i] & 0xc0) !== 0x80) column++;
    const location: ErrorLocation = { line, column, byteOffset: base + position };
    if (this.file !== undefined) location.file = this.file;
    return location;
  }

  private throwQuoteNotClosed(buf: Uint8Array, base: number, recordStart: number, recordLine: number, open: number, end: number): never {
    const at = this.locate(buf, base, recordStart, recordLine, open);
    throw new SluiceError(
      'CSV_QUOTE_NOT_CLOSED',
      `Quote not closed: the quoted field opened at line ${at.line}, column ${at.column} runs to the end of the input`,
      { ...at, value: excerpt(buf, open, end) },
    );
  }

  private throwInvalidClosingQuote(buf: Uint8Array, base: number, recordStart: number, recordLine: number, open: number, bad: number): never {
    const opened = this.locate(buf, base, recordStart, recordLine, open);
    const at = this.locate(buf, base, recordStart, recordLine, bad);
    throw new SluiceError(
      'CSV_INVALID_QUOTE',
      `Invalid quote: the quoted field opened at line ${opened.line}, column ${opened.column} closes and is followed by ${describeByte(buf[bad])} at line ${at.line}, column ${at.column}; expected a delimiter or a line break. A quote inside a quoted field must be doubled.`,
      { ...at, value: excerpt(buf, open, bad + 1), expected: 'a delimiter, a line break or the end of the input after a closing quote' },
    );
  }

  private throwQuoteInUnquotedField(buf: Uint8Array, base: number, recordStart: number, recordLine: number, position: number): never {
    const at = this.locate(buf, base, recordStart, recordLine, position);
    let fieldStart = position;
    while (fieldStart > recordStart && buf[fieldStart - 1] !== this.delimiter) fieldStart--;
    throw new SluiceError(
      'CSV_INVALID_QUOTE',
      `Invalid quote: a quote inside an unquoted field at line ${at.line}, column ${at.column}; quote the whole field and double the quote`,
      { ...at, value: excerpt(buf, fieldStart, position + 1), expected: 'no quote inside an unquoted field' },
    );
  }

  /** A record longer than the limit; when it ran out inside quotes, say where that quote opened. */
  private throwTooLarge(buf: Uint8Array, base: number, recordStart: number, recordLine: number): never {
    const at = this.locate(buf, base, recordStart, recordLine, recordStart);
    let message = `Record too large: the record starting at line ${at.line} is longer than maxRecordBytes (${this.maxRecordBytes} bytes)`;
    if (this.openQuote >= 0) {
      const opened = this.locate(buf, base, recordStart, recordLine, this.openQuote);
      message += `; a quoted field opened at line ${opened.line}, column ${opened.column} is still open, probably an unclosed quote`;
    }
    throw new SluiceError('CSV_RECORD_TOO_LARGE', message, { ...at, rule: `record <= ${this.maxRecordBytes} bytes` });
  }
}

function isBomPrefix(head: Uint8Array, headLength: number, chunk: Uint8Array): boolean {
  const bom = [0xef, 0xbb, 0xbf];
  for (let i = 0; i < headLength; i++) if (head[i] !== bom[i]) return false;
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== bom[headLength + i]) return false;
  return true;
}

function describeByte(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? JSON.stringify(String.fromCharCode(byte)) : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}

function excerpt(buf: Uint8Array, start: number, end: number): string {
  // Buffer#toString makes a fresh string: the error does not pin the input buffer.
  return Buffer.from(buf.buffer, buf.byteOffset + start, Math.min(end - start, 60)).toString('utf8');
}

/** Field position arrays with room for at least `needed` fields (doubling), keeping the ones written. */
function grownFields(
  starts: Int32Array,
  ends: Int32Array,
  flags: Uint8Array,
  needed: number,
): { starts: Int32Array<ArrayBuffer>; ends: Int32Array<ArrayBuffer>; flags: Uint8Array<ArrayBuffer> } {
  let capacity = Math.max(starts.length * 2, 1);
  while (capacity < needed) capacity *= 2;
  const grown = { starts: new Int32Array(capacity), ends: new Int32Array(capacity), flags: new Uint8Array(capacity) };
  grown.starts.set(starts);
  grown.ends.set(ends);
  grown.flags.set(flags);
  return grown;
}
