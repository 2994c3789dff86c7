import type { AnyRow, Batch } from '../../batch/batch.ts';
import { checkOptions, optionsObject } from '../../core/options.ts';
import type { Sink } from '../../contracts/contracts.ts';
import { fileSink, sinkPath } from '../files/file-sink.ts';
import { RowTextEncoder } from '../files/format.ts';

const NO_OPTIONS = optionsObject({});

/**
 * Writes newline-delimited JSON, one object per row (`.gz` names are gzipped), batch by batch to a
 * temporary file renamed into place when the run succeeds. Timestamps are ISO 8601 strings, dates
 * `YYYY-MM-DD`, non-finite numbers null.
 */
export function toNdjson<R = AnyRow>(path: string, options: Record<string, never> = {}): Sink<R> {
  // It has no options yet; a pipeline file run without type checking may still pass some (a CSV sink's).
  sinkPath('toNdjson()', path);
  checkOptions('toNdjson()', NO_OPTIONS, options);
  const suffix = Buffer.from('}\n', 'utf8');
  return fileSink<R>('ndjson', path, () => {
    const encoder = new RowTextEncoder({ json: true, delimiter: 0x22, quote: JSON.stringify });
    let names: readonly string[] = [];
    let prefixes: Uint8Array[] = [];
    return {
      encode(batch: Batch<unknown>) {
        if (batch.names !== names && batch.names.join('\u0000') !== names.join('\u0000')) {
          names = batch.names;
          prefixes = names.map((name, c) => Buffer.from(`${c === 0 ? '{' : ','}${JSON.stringify(name)}:`, 'utf8'));
        }
        if (batch.names.length === 0) return '{}\n'.repeat(batch.length);
        return encoder.encode(batch, prefixes, suffix);
      },
      release: (bytes: Uint8Array) => encoder.release(bytes),
    };
  });
}
