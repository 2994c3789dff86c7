import type { Batch } from '../batch/batch.ts';
import { estimateStringBytes, fixedWidth } from '../batch/dtype.ts';
import { formatBytes } from '../core/bytes.ts';
import { SluiceError } from '../core/errors.ts';
import { BATCHES_IN_FLIGHT } from './batch-sizing.ts';

/**
 * Splits a batch larger than the budget into batches of about `share` bytes each. Fails with
 * RECORD_EXCEEDS_BUDGET, naming where the record is, when one row alone is larger than the budget.
 */
export function splitToFit(batch: Batch, limit: number, share: number, pipeline: string): Batch[] {
  const sizes = rowBytes(batch);
  let largest = 0;
  for (let i = 1; i < batch.length; i++) if (sizes[i] > sizes[largest]) largest = i;
  if (batch.length === 0 || sizes[largest] > limit) {
    const line = batch.lineOf(largest);
    const row = batch.origin.row === undefined ? undefined : batch.origin.row + largest;
    const where = batch.origin.file !== undefined ? `${batch.origin.file}${line === undefined ? '' : `:${line}`}` : batch.origin.query !== undefined ? `row ${row} of the query` : `row ${largest + 1} of a batch`;
    throw new SluiceError(
      'RECORD_EXCEEDS_BUDGET',
      `The record at ${where} takes about ${formatBytes(sizes[largest])} in memory, more than the whole memory budget of ${formatBytes(limit)}; ` +
        `raise --memory above ${formatBytes(sizes[largest])} (${formatBytes(sizes[largest] * BATCHES_IN_FLIGHT)} lets batches of such rows flow).`,
      { file: batch.origin.file, line, query: batch.origin.query, row, pipeline },
    );
  }
  const pieces: Batch[] = [];
  let start = 0;
  while (start < batch.length) {
    let end = start;
    let bytes = 0;
    while (end < batch.length && (end === start || bytes + sizes[end] <= share)) bytes += sizes[end++];
    const indices = new Uint32Array(end - start);
    for (let i = 0; i < indices.length; i++) indices[i] = start + i;
    pieces.push(batch.take(indices, indices.length));
    start = end;
  }
  return pieces;
}

/** Estimated bytes of each row of a batch, as its columns store it (the rare, oversized path only). */
function rowBytes(batch: Batch): Float64Array {
  const sizes = new Float64Array(batch.length).fill(batch.lines === undefined ? 0 : 4);
  for (const name of batch.names) {
    const column = batch.columns[name];
    if (column.dtype === 'string') {
      const data = column.data as string[];
      for (let i = 0; i < batch.length; i++) sizes[i] += typeof data[i] === 'string' ? estimateStringBytes(data[i]) : 8;
    } else {
      const width = fixedWidth(column.dtype);
      for (let i = 0; i < batch.length; i++) sizes[i] += width;
    }
  }
  return sizes;
}
