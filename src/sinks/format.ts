import type { Batch } from '../batch/batch.ts';
import { getBit } from '../batch/bitmap.ts';
import type { Column } from '../batch/column.ts';
import type { TypedArray } from '../batch/dtype.ts';
import { formatDate, formatTimestamp } from '../schema/text.ts';

/**
 * Formats the value at a row of a column as text, or returns null for a null. One formatter per column
 * per batch, chosen by dtype once, so the row loop does no type dispatch on values.
 */
export type ValueFormatter = (index: number) => string | null;

export function textFormatter(column: Column): ValueFormatter {
  const validity = column.validity;
  const data = column.data;
  let format: ValueFormatter;
  switch (column.dtype) {
    case 'bool':
      format = (i) => (getBit(data as Uint8Array, i) ? 'true' : 'false');
      break;
    case 'string':
      format = (i) => (data as string[])[i];
      break;
    case 'dictionary': {
      const values = column.dictionary!.values;
      format = (i) => values[(data as TypedArray)[i]];
      break;
    }
    case 'timestamp':
      format = (i) => formatTimestamp((data as Float64Array)[i]);
      break;
    case 'date':
      format = (i) => formatDate((data as Int32Array)[i]);
      break;
    default:
      format = (i) => String((data as TypedArray)[i]);
  }
  if (validity === null) return format;
  return (i) => (getBit(validity, i) ? format(i) : null);
}

export function isTextual(column: Column): boolean {
  return column.dtype === 'string' || column.dtype === 'dictionary' || column.dtype === 'timestamp' || column.dtype === 'date';
}

export function formattersOf(batch: Batch<unknown>): ValueFormatter[] {
  return batch.names.map((name) => textFormatter(batch.columns[name]));
}
