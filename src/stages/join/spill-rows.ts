import { Batch, columnRecord } from '../../batch/batch.ts';
import { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { DType, TypedArray } from '../../batch/dtype.ts';
import type { StoredValues } from '../aggregate/group-table.ts';
import type { Values } from '../aggregate/values.ts';
import type { BuildBlock } from './build-table.ts';

/**
 * Left rows as they go to a spill file: their key hashes and every column as it was (dtype, typed
 * buffer or strings, validity), so the rows read back are the rows that came in. Dictionary columns
 * keep their codes and name their dictionary by its index in {@link Dictionaries} (dictionaries are the
 * run's, in memory the whole time): v8.serialize writes the buffers as bytes, see aggregate/spill.ts.
 */
export interface ProbeBlock {
  hashes: Int32Array;
  names: string[];
  columns: { dtype: DType; data: TypedArray | string[]; validity: Uint8Array | null; dictionary: number }[];
}

/** The dictionaries of spilled columns, by index. */
export class Dictionaries {
  private readonly list: Dictionary[] = [];

  indexOf(dictionary: Dictionary | undefined): number {
    if (dictionary === undefined) return -1;
    let index = this.list.indexOf(dictionary);
    if (index < 0) index = this.list.push(dictionary) - 1;
    return index;
  }

  at(index: number): Dictionary | undefined {
    return index < 0 ? undefined : this.list[index];
  }
}

/** Rows `rows[0..count)` of `batch` with their hashes, as a spill block. */
export function probeBlock(batch: Batch, rows: Uint32Array, count: number, hashes: Int32Array, dictionaries: Dictionaries): ProbeBlock {
  const blockHashes = new Int32Array(count);
  for (let i = 0; i < count; i++) blockHashes[i] = hashes[rows[i]];
  const columns = batch.names.map((name) => {
    const column = batch.columns[name].take(rows, count);
    return { dtype: column.dtype, data: column.data, validity: column.validity, dictionary: dictionaries.indexOf(column.dictionary) };
  });
  return { hashes: blockHashes, names: [...batch.names], columns };
}

/** A spilled block's rows as a batch again. */
export function probeBatch(block: ProbeBlock, dictionaries: Dictionaries): Batch {
  const count = block.hashes.length;
  const columns = columnRecord();
  block.names.forEach((name, c) => {
    const { dtype, data, validity, dictionary } = block.columns[c];
    columns[name] = new Column(dtype, count, data, validity, dictionaries.at(dictionary));
  });
  return new Batch(columns, count);
}

/** The rows of a block whose indexes are `rows`, as a block of their own (re-partitioning). */
export function pickProbeRows(block: ProbeBlock, rows: Uint32Array, dictionaries: Dictionaries): ProbeBlock {
  return probeBlock(probeBatch(block, dictionaries), rows, rows.length, block.hashes, dictionaries);
}

/** Values `rows` of `values`, stored for a spill block. */
export function storeRows(values: Values, rows: ArrayLike<number>): StoredValues {
  const count = rows.length;
  const nulls = new Uint8Array(count);
  if (values.family === 'number') {
    const numbers = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (values.isNull(rows[i])) nulls[i] = 1;
      else numbers[i] = values.number(rows[i]);
    }
    return { family: 'number', numbers, nulls };
  }
  const strings = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    if (values.isNull(rows[i])) nulls[i] = 1;
    else strings[i] = values.string(rows[i]);
  }
  return { family: 'string', strings, nulls };
}

/** The rows of a build block whose indexes are `rows`, as a block of their own (re-partitioning). */
export function pickBuildRows(block: BuildBlock, rows: Int32Array): BuildBlock {
  const hashes = new Int32Array(rows.length);
  for (let i = 0; i < rows.length; i++) hashes[i] = block.hashes[rows[i]];
  const pick = (stored: StoredValues): StoredValues => {
    const nulls = new Uint8Array(rows.length);
    for (let i = 0; i < rows.length; i++) nulls[i] = stored.nulls[rows[i]];
    if (stored.family === 'number') {
      const numbers = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) numbers[i] = stored.numbers![rows[i]];
      return { family: 'number', numbers, nulls };
    }
    const strings = new Array<string>(rows.length);
    for (let i = 0; i < rows.length; i++) strings[i] = stored.strings![rows[i]];
    return { family: 'string', strings, nulls };
  };
  return { hashes, keys: block.keys.map(pick), payload: block.payload.map(pick) };
}
