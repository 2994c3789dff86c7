import type { AnyRow, Batch } from '../batch/batch.ts';
import { SluiceError } from '../errors.ts';
import type { Sink } from '../pipeline.ts';
import { fileSink } from './file-sink.ts';
import { ByteWriter } from './byte-writer.ts';
import { columnWriter } from './format.ts';

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
  const delimiterByte = delimiter.charCodeAt(0);
  return fileSink<R>('csv', path, () => {
    const writer = new ByteWriter(1 << 20);
    return {
      begin: (batch: Batch<unknown>) => (options.header === false ? '' : `${batch.names.map(quote).join(delimiter)}\n`),
      encode(batch: Batch<unknown>) {
        // One byte buffer per batch; each column's writer is chosen by dtype once per batch, so the
        // row loop does no type dispatch and makes no string for numbers, dates or dictionary values.
        const writers = batch.names.map((name) => columnWriter(batch.columns[name], writer, quote));
        const columns = writers.length;
        const length = batch.length;
        for (let i = 0; i < length; i++) {
          writers[0](i);
          for (let c = 1; c < columns; c++) {
            writer.writeByte(delimiterByte);
            writers[c](i);
          }
          writer.writeByte(0x0a);
        }
        return writer.flush();
      },
    };
  });
}
