/**
 * `parquet(pathOrGlob, options)`: Parquet files read one row group at a time (source.ts). This file is
 * the door: it checks the options and builds the source, and source.ts — with hyparquet, which costs
 * about 12 MB of RSS and a tenth of a second to load — is imported with the first file, so that a
 * pipeline that does not read Parquet does not pay for it.
 */
import type { z } from 'zod';
import { checkOptions } from '../../core/options.ts';
import type { Source } from '../../contracts/contracts.ts';
import type { RowOf } from '../../schema/row-type.ts';
import { COLUMNAR_OPTIONS, type ColumnarOptions } from '../files/columnar.ts';
import { type ColumnarFormat, columnarSource } from '../files/columnar-source.ts';
import { PARQUET_ENGINE } from './format.ts';

export type ParquetOptions<S = unknown, K extends string = string> = ColumnarOptions<S, K>;

/** Reads Parquet files (a path, glob or list), one row group at a time. */
export function parquet<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  path: string | readonly string[],
  options: ParquetOptions<S, K> = {},
): Source<RowOf<S, K>> {
  const checked = checkOptions('parquet()', COLUMNAR_OPTIONS, options) as ParquetOptions<unknown, string>;
  return columnarSource<RowOf<S, K>>(path, checked, () => new LazyParquetFormat());
}

/** The reader of source.ts, loaded when the first file is opened. */
class LazyParquetFormat implements ColumnarFormat {
  readonly kind = 'parquet';
  readonly engine = PARQUET_ENGINE;
  private reader: ColumnarFormat | undefined;

  async open(...args: Parameters<ColumnarFormat['open']>): ReturnType<ColumnarFormat['open']> {
    this.reader ??= new (await import('./source.ts')).ParquetFormat();
    return this.reader.open(...args);
  }

  engineDetail(): string | undefined {
    return this.reader?.engineDetail?.();
  }
}
