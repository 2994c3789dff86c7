/**
 * `toArrow(path, { format })`: batches written as Arrow IPC record batches through apache-arrow's
 * writer, one record batch per batch as it arrives, so the sink holds no more than the batch in hand
 * (its numeric buffers are written from our own typed arrays, see encoder.ts and to-arrow-data.ts) and the run's
 * dictionaries. The file is written under a temporary name and renamed into place on success.
 */
import { z } from 'zod';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions, option, optionsObject } from '../../core/options.ts';
import type { Sink, SinkContext, SinkResult } from '../../contracts/contracts.ts';
import { fileSink, sinkPath } from '../files/file-sink.ts';

export interface ArrowSinkOptions {
  /**
   * `'file'`: the Arrow IPC file format (`.arrow`, Feather v2), with a footer that lets readers seek to
   * any record batch; `'stream'`: the IPC stream format (`.arrows`), readable as it is written.
   * @default 'file'
   */
  format?: 'file' | 'stream';
}

const OPTIONS = optionsObject({
  format: option(z.enum(['file', 'stream']), "'file' or 'stream'"),
});

/**
 * Writes an Arrow IPC file or stream: one record batch per batch, numeric, bool and date columns
 * straight from their buffers, timestamps as timestamp[ms, UTC], strings as utf8, dictionary columns
 * as dictionary<int32, utf8> (delta dictionary batches as the dictionary grows).
 *
 * @example toArrow('out/orders.arrow') // or toArrow('out/orders.arrows', { format: 'stream' })
 */
export function toArrow<R = AnyRow>(path: string, options: ArrowSinkOptions = {}): Sink<R> {
  sinkPath('toArrow()', path);
  const checked = checkOptions('toArrow()', OPTIONS, options);
  const format = checked.format ?? 'file';
  if (path.endsWith('.gz')) {
    throw new SluiceError('INVALID_OPTION', `toArrow(): ${path} ends in .gz, but Arrow IPC files are read in place (memory-mapped, by seeking); name it .arrow or .arrows.`, {
      option: 'path',
      value: path,
    });
  }
  return {
    kind: 'arrow',
    describe: () => ({ kind: 'arrow', location: path, notes: [`Arrow IPC ${format} format`] }),
    // apache-arrow is loaded when the sink writes, not with Sluice: it takes about as long to load as the rest of Sluice.
    async write(input: AsyncIterable<Batch<R>>, context: SinkContext): Promise<SinkResult> {
      const { ArrowEncoder } = await import('./encoder.ts');
      return fileSink<R>('arrow', path, () => new ArrowEncoder(path, format)).write(input, context);
    },
  };
}
