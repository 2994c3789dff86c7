/**
 * `arrow(pathOrGlob, options)`: Arrow IPC files and streams read one record batch at a time through
 * apache-arrow's reader (the file format by seeking to each batch its footer lists, the stream format
 * front to back), only the projected columns converted, into typed batches whose numeric buffers are
 * views on the record batch's body (read-file.ts, from-arrow-data.ts). The files, the limit, slicing to the run's
 * batch size and schema checks are the columnar skeleton's (files/columnar-source.ts).
 */
import type { z } from 'zod';
import { checkOptions } from '../../core/options.ts';
import type { RowOf } from '../../schema/row-type.ts';
import type { Source } from '../../contracts/contracts.ts';
import { COLUMNAR_OPTIONS, type ColumnarOptions } from '../files/columnar.ts';
import { type ColumnarFormat, columnarSource } from '../files/columnar-source.ts';

export type ArrowOptions<S = unknown, K extends string = string> = ColumnarOptions<S, K>;

const ENGINE = 'arrow ipc (apache-arrow)';

/** Reads Arrow IPC files or streams (a path, glob or list), one record batch at a time. */
export function arrow<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: ArrowOptions<S, K> = {},
): Source<RowOf<S, K>> {
  const checked = checkOptions('arrow()', COLUMNAR_OPTIONS, options) as ArrowOptions<unknown, string>;
  // apache-arrow is loaded with the first file, not with Sluice: it takes about as long to load as the rest of Sluice.
  const open: ColumnarFormat['open'] = async (...args) => (await import('./read-file.ts')).openFile(...args);
  return columnarSource<RowOf<S, K>>(path, checked, () => ({ kind: 'arrow', engine: ENGINE, open }));
}
