/** Random batches of every dtype with nulls, DuckDB queries, and running a Parquet write or read. */
import { DuckDBInstance } from '@duckdb/node-api';
import { Batch } from '../../../src/batch/batch.ts';
import { columnFromValues } from '../../../src/batch/column.ts';
import { Dictionary } from '../../../src/batch/dictionary.ts';
import type { DType } from '../../../src/batch/dtype.ts';
import { type ParquetSinkOptions, pipeline, runOrThrow, toParquet } from '../../../src/index.ts';
import { fromBatches } from '../../support/fakes.ts';
import { random } from '../../support/random.ts';

const DAY = 86_400_000;

/** One value of `dtype` (JS form, as `Column.get` gives it back). */
function valueOf(dtype: DType, next: () => number, words: readonly string[]): unknown {
  const integer = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  switch (dtype) {
    case 'bool':
      return next() < 0.5;
    case 'int8':
      return integer(-128, 127);
    case 'int16':
      return integer(-32768, 32767);
    case 'int32':
      return integer(-2147483648, 2147483647);
    case 'uint8':
      return integer(0, 255);
    case 'uint16':
      return integer(0, 65535);
    case 'uint32':
      return integer(0, 4294967295);
    case 'float32':
      return Math.fround((next() - 0.5) * 1e6);
    case 'float64':
      return next() < 0.05 ? [0, -0, Infinity, -Infinity, Number.MAX_VALUE][integer(0, 4)] : (next() - 0.5) * 1e12;
    case 'timestamp':
      // Before and after 1970, and beyond 2^32 ms: both words of the INT64 in play.
      return new Date(integer(-5e12, 5e12));
    case 'date':
      return new Date(integer(-40000, 40000) * DAY);
    case 'string':
      return next() < 0.1 ? '' : `${words[integer(0, words.length - 1)]} ${integer(0, 1e6)}`;
    case 'dictionary':
      return words[integer(0, words.length - 1)];
  }
}

export const ALL_DTYPES: readonly DType[] = ['bool', 'int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32', 'float32', 'float64', 'timestamp', 'date', 'string', 'dictionary'];

/** Batches of the given sizes with one column per dtype, about `nullShare` nulls, and one all-null column. */
export function randomBatches(seed: number, sizes: readonly number[], nullShare = 0.2): Batch[] {
  const next = random(seed);
  const words = ['alpha', 'béta', 'gamma 🎲', 'delta', '', 'epsilon "quoted"', '\uE000 private', '𝄞 clef'];
  const dictionary = new Dictionary(1000);
  return sizes.map((length) => {
    const columns: Record<string, ReturnType<typeof columnFromValues>> = {};
    for (const dtype of ALL_DTYPES) {
      const values = Array.from({ length }, () => (next() < nullShare ? null : valueOf(dtype, next, words)));
      columns[dtype] = columnFromValues(dtype, values, dtype === 'dictionary' ? dictionary : undefined);
    }
    columns.nothing = columnFromValues('int32', new Array(length).fill(null));
    columns.full = columnFromValues('float64', Array.from({ length }, (_, i) => i));
    return new Batch(columns, length);
  });
}

export async function writeParquet(path: string, batches: readonly Batch[], options: ParquetSinkOptions = {}) {
  return runOrThrow(pipeline().from(fromBatches(batches)).to(toParquet(path, options)));
}

/** Runs SQL in an in-memory DuckDB, rows as JSON-friendly objects. */
export async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A SQL string literal. */
export function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
