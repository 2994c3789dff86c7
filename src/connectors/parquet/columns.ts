/** Column helpers for the Parquet source: zero-copy slices of a row group, and values for schema checks. */
import { Column } from '../../batch/column.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { formatDate } from '../../codec/text.ts';

/** Rows `start..end` of a column; `start` a multiple of 8, so bitmaps are byte-aligned views. */
export function sliceColumn(column: Column, start: number, end: number): Column {
  const validity = column.validity === null ? null : column.validity.subarray(start >>> 3, (end + 7) >>> 3);
  const length = end - start;
  if (column.dtype === 'bool') return new Column('bool', length, (column.data as Uint8Array).subarray(start >>> 3, (end + 7) >>> 3), validity);
  if (column.dtype === 'string') return new Column('string', length, (column.data as string[]).slice(start, end), validity);
  return new Column(column.dtype, length, (column.data as TypedArray).subarray(start, end), validity, column.dictionary);
}

/** A value as a schema's row decoder takes it: dates as their ISO text, timestamps as Dates. */
export function jsValue(column: Column, row: number): unknown {
  if (column.isNull(row)) return null;
  if (column.dtype === 'date') return formatDate((column.data as Int32Array)[row]);
  return column.get(row);
}
