import type { AnyRow, Batch } from '../../batch/batch.ts';
import { z } from 'zod';
import { checkOptions, option, optionsObject } from '../../core/options.ts';
import type { Sink } from '../../contracts/contracts.ts';
import { fileSink, sinkPath } from '../files/file-sink.ts';
import { RowTextEncoder } from '../files/format.ts';
import { startsFormula } from '../../codec/cells.ts';
import { delimiterSpelling } from './options.ts';

export interface CsvSinkOptions {
  /** One character other than a quote or line break, or a name as `csv()` takes (`'tab'`, `'semicolon'`, …). @default ',' */
  delimiter?: string;
  /** Write a header line with the column names. @default true */
  header?: boolean;
  /**
   * Prefix text cells (string and dictionary columns, and header names) that start with `=`, `+`, `-`,
   * `@`, a tab or a CR with `'`, as csv-stringify's `escape_formulas` does, so that a spreadsheet opening
   * the file shows them as text instead of running them as formulas (CSV injection). Off by default:
   * it changes the values (`-5` in a text column is written `'-5`), and a data pipeline's CSV is read
   * back by programs, not opened in a spreadsheet. Turn it on for files people open.
   * @default false
   */
  escapeFormulas?: boolean;
}

// A quote or a line break as the delimiter could not be told apart from the quoting when read back.
const writableDelimiter = delimiterSpelling.refine((delimiter) => delimiter !== '"' && delimiter !== '\n' && delimiter !== '\r');

export const CSV_SINK_OPTIONS = optionsObject({
  delimiter: option(writableDelimiter, "one character other than a quote or line break, such as ';', or 'tab'"),
  header: option(z.boolean(), 'true or false'),
  escapeFormulas: option(z.boolean(), 'true or false'),
});

/**
 * Writes CSV (RFC 4180; `.gz` names are gzipped) batch by batch to a temporary file renamed into
 * place when the run succeeds. Nulls are empty fields; empty strings are written as `""` so the two
 * stay apart when read back.
 */
export function toCsv<R = AnyRow>(path: string, options: CsvSinkOptions = {}): Sink<R> {
  sinkPath('toCsv()', path);
  options = checkOptions('toCsv()', CSV_SINK_OPTIONS, options);
  const delimiter = options.delimiter ?? ',';
  const needsQuotes = new RegExp(`[${delimiter === ']' ? '\\]' : delimiter.replace(/[\\^-]/g, '\\$&')}"\\r\\n]|^\\s|\\s$`);
  const quoteField = (text: string) => (text === '' ? '""' : needsQuotes.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const escapeFormulas = options.escapeFormulas === true;
  const quote = escapeFormulas ? (text: string) => quoteField(text !== '' && startsFormula(text.charCodeAt(0)) ? `'${text}` : text) : quoteField;
  // A delimiter outside ASCII never matches a byte of the fast path: every string with it is quoted by `quote`.
  const delimiterCode = delimiter.charCodeAt(0);
  const separator = Buffer.from(delimiter, 'utf8');
  const none = new Uint8Array(0);
  const newline = Uint8Array.of(0x0a);
  return fileSink<R>('csv', path, () => {
    const encoder = new RowTextEncoder({ json: false, delimiter: delimiterCode, quote, escapeFormulas });
    let prefixes: Uint8Array[] = [];
    return {
      begin: (batch: Batch<unknown>) => (options.header === false ? '' : `${batch.names.map(quote).join(delimiter)}\n`),
      encode(batch: Batch<unknown>) {
        if (prefixes.length !== batch.names.length) prefixes = batch.names.map((_, c) => (c === 0 ? none : separator));
        return encoder.encode(batch, prefixes, newline);
      },
      release: (bytes: Uint8Array) => encoder.release(bytes),
    };
  });
}
