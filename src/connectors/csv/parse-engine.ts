import { parse, type Options as ParseOptions } from 'csv-parse';
import { SluiceError } from '../../core/errors.ts';
import { openInput, readError } from '../files/inputs.ts';
import { Utf8Validator } from '../../codec/utf8.ts';
import type { ResolvedCsvOptions } from './options.ts';
import { CSV_PARSE_OPTIONS } from './scanner.ts';

export interface TextRecord {
  fields: string[];
  /** 1-based line where the record starts. */
  line: number;
}

/**
 * The csv-parse engine: records as arrays of strings, handed on per input chunk (never per row, so
 * the async boundary is crossed once per chunk). Runs for dialect options the fast reader lacks.
 */
export async function* parseRecords(
  file: string,
  options: ResolvedCsvOptions,
  signal: AbortSignal,
  onProgress?: (diskBytes: number) => void,
): AsyncGenerator<TextRecord[]> {
  const parserOptions: ParseOptions = {
    // The scanner's decisions (line breaks, BOM, empty lines), so that both engines read the same records.
    ...CSV_PARSE_OPTIONS,
    record_delimiter: [...CSV_PARSE_OPTIONS.record_delimiter],
    delimiter: options.delimiter,
    quote: options.quote,
    info: true,
    max_record_size: options.maxRecordBytes,
    relax_quotes: options.relaxQuotes,
  };
  if (options.comment !== undefined) parserOptions.comment = options.comment;
  // csv-parse's escape defaults to '"' whatever the quote: a doubled quote is the escape, as in the scanner.
  parserOptions.escape = options.escape ?? options.quote;
  if (options.encoding === 'latin1') parserOptions.encoding = 'latin1';
  const parser = parse(parserOptions);
  let pending: TextRecord[] = [];
  let failure: unknown = null;
  // Last physical line of the last record parsed: a record that fails starts after it.
  let lastLine = 0;
  // csv-parse counts a CRLF inside a quoted field as two lines, for the rest of the file: `drift` is that excess.
  let drift = 0;
  parser.on('data', (data: { record: string[]; info: { lines: number } }) => {
    let newlines = 0;
    for (const field of data.record) {
      if (field.indexOf('\n') < 0 && field.indexOf('\r') < 0) continue;
      for (let i = 0; i < field.length; i++) {
        const c = field.charCodeAt(i);
        if (c === 0x0a) newlines++;
        else if (c === 0x0d) {
          newlines++;
          if (field.charCodeAt(i + 1) === 0x0a) {
            drift++;
            i++;
          }
        }
      }
    }
    lastLine = data.info.lines - drift;
    pending.push({ fields: data.record, line: lastLine - newlines });
  });
  parser.on('error', (error) => {
    failure ??= error;
  });
  // csv-parse reports errors found at the end of the input (an unclosed quote) and flushes its last
  // records after end() returns, from a later tick: wait for the parser to finish before judging it.
  const settled = new Promise<void>((resolve) => {
    parser.once('end', resolve);
    parser.once('close', resolve);
    parser.once('error', () => resolve());
  });
  const input = openInput(file);
  const validator = options.encoding === 'utf8' ? new Utf8Validator(file) : null;
  try {
    for await (const chunk of input.stream) {
      signal.throwIfAborted();
      validator?.check(chunk as Buffer);
      parser.write(chunk);
      if (failure !== null) throw parseError(file, failure, lastLine);
      onProgress?.(input.diskBytes());
      if (pending.length > 0) {
        const records = pending;
        pending = [];
        yield records;
      }
    }
    validator?.end();
    parser.end();
    await settled;
    if (failure !== null) throw parseError(file, failure, lastLine);
    if (pending.length > 0) yield pending;
  } catch (error) {
    throw readError(file, error);
  } finally {
    input.close();
    parser.destroy();
  }
}

function parseError(file: string, error: unknown, lastLine: number): SluiceError {
  if (error instanceof SluiceError) return error;
  const csvError = error as { code?: string; message?: string; lines?: number; column?: number };
  if (csvError.code === 'CSV_QUOTE_NOT_CLOSED') {
    // csv-parse names the line where the input ended; people need the line where the quote opened,
    // which is where the record after the last good one starts.
    const line = lastLine + 1;
    return new SluiceError('CSV_QUOTE_NOT_CLOSED', `${file}:${line}: a quoted field that starts in the record on this line is not closed before the end of the file`, {
      file,
      line,
      expected: 'a closing quote',
      cause: error,
    });
  }
  const codes: Record<string, 'CSV_QUOTE_NOT_CLOSED' | 'CSV_INVALID_QUOTE' | 'CSV_RECORD_TOO_LARGE'> = {
    CSV_QUOTE_NOT_CLOSED: 'CSV_QUOTE_NOT_CLOSED',
    CSV_INVALID_CLOSING_QUOTE: 'CSV_INVALID_QUOTE',
    CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'CSV_INVALID_QUOTE',
    INVALID_OPENING_QUOTE: 'CSV_INVALID_QUOTE',
    CSV_MAX_RECORD_SIZE: 'CSV_RECORD_TOO_LARGE',
  };
  const code = codes[csvError.code ?? ''] ?? 'CSV_PARSE';
  const line = csvError.lines;
  return new SluiceError(code, `${file}${line === undefined ? '' : `:${line}`}: ${csvError.message ?? String(error)}`, {
    file,
    line,
    cause: error,
  });
}
