import type { AnyRow, Batch } from '../batch/batch.ts';
import { SluiceError } from '../errors.ts';
import type { Sink } from '../pipeline.ts';
import { fileSink } from './file-sink.ts';
import { formattersOf } from './format.ts';

export interface CsvSinkOptions {
  /** @default ',' */
  delimiter?: string;
  /** Write a header line with the column names. @default true */
  header?: boolean;
}

/**
 * Writes CSV (RFC 4180; `.gz` names are gzipped) batch by batch to a temporary file renamed into
 * place when the run succeeds. Nulls are empty fields; empty strings are written as `""` so the two
 * stay apart when read back.
 */
export function toCsv<R = AnyRow>(path: string, options: CsvSinkOptions = {}): Sink<R> {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new SluiceError('INVALID_OPTION', `Expected \`delimiter\` to be one character other than a quote or line break; got ${JSON.stringify(delimiter)}.`);
  }
  const needsQuotes = new RegExp(`[${delimiter === ']' ? '\\]' : delimiter.replace(/[\\^-]/g, '\\$&')}"\\r\\n]|^\\s|\\s$`);
  const quote = (text: string) => (text === '' ? '""' : needsQuotes.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  return fileSink<R>('csv', path, () => ({
    begin: (batch: Batch<unknown>) => (options.header === false ? '' : `${batch.names.map(quote).join(delimiter)}\n`),
    encode(batch: Batch<unknown>) {
      const formatters = formattersOf(batch);
      const columns = formatters.length;
      let text = '';
      for (let i = 0; i < batch.length; i++) {
        for (let c = 0; c < columns; c++) {
          const value = formatters[c](i);
          if (c > 0) text += delimiter;
          if (value !== null) text += quote(value);
        }
        text += '\n';
      }
      return text;
    },
  }));
}
