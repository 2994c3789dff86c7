import type { AnyRow, Batch } from '../batch/batch.ts';
import type { Sink } from '../pipeline.ts';
import { fileSink } from './file-sink.ts';
import { formattersOf, isTextual } from './format.ts';

/**
 * Writes newline-delimited JSON, one object per row (`.gz` names are gzipped), batch by batch to a
 * temporary file renamed into place when the run succeeds. Timestamps are ISO 8601 strings, dates
 * `YYYY-MM-DD`, non-finite numbers null.
 */
export function toNdjson<R = AnyRow>(path: string): Sink<R> {
  return fileSink<R>('ndjson', path, () => ({
    encode(batch: Batch<unknown>) {
      const formatters = formattersOf(batch);
      const keys = batch.names.map((name) => `${JSON.stringify(name)}:`);
      const textual = batch.names.map((name) => isTextual(batch.columns[name]));
      const numeric = batch.names.map((name) => batch.columns[name].dtype !== 'bool' && !isTextual(batch.columns[name]));
      let text = '';
      for (let i = 0; i < batch.length; i++) {
        text += '{';
        for (let c = 0; c < keys.length; c++) {
          if (c > 0) text += ',';
          const value = formatters[c](i);
          text += keys[c];
          if (value === null) text += 'null';
          else if (textual[c]) text += JSON.stringify(value);
          else if (numeric[c] && (value === 'NaN' || value === 'Infinity' || value === '-Infinity')) text += 'null';
          else text += value;
        }
        text += '}\n';
      }
      return text;
    },
  }));
}
