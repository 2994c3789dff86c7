/**
 * The COPY reader: `COPY (query) TO STDOUT`, network chunks handed to a decoder row by row. In the
 * binary format (copy-binary.ts) when every column has a binary decoder and no schema reads the text,
 * else in the text format, where a row split across two chunks is joined from its two pieces only.
 * Stopping early (take, limit, abort) destroys the stream, and the caller then ends the connection:
 * COPY cannot be cancelled in place.
 */
import type pg from 'pg';
import type { Batch, BatchOrigin } from '../../batch/batch.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ResolvedConnection } from './connection.ts';
import { SluiceError } from '../../core/errors.ts';
import { binaryHeaderLength, binaryWireOf, CopyBinaryDecoder } from './copy-binary.ts';
import { type CopyDecoder, CopySchemaDecoder, CopyTextDecoder, TextColumns } from './decode-copy.ts';
import { pgCopyStreams } from './driver.ts';
import { wrapPgError } from './errors.ts';
import { describeFields, type Field, positionsOf } from './fields.ts';
import { limitedSql } from './query.ts';

const NEWLINE = 0x0a;

export interface CopyRead {
  /** The user's statement. */
  source: string;
  /** Rows per batch, asked again for each batch (the budget may change it). */
  batchRows: () => number;
  /** The plans of a schema, from the result's fields, or undefined to decode by the fields' types. */
  plans: (fields: Field[]) => ColumnPlan[] | undefined;
  dictionaryCap: number | undefined;
  /** `auto`: binary where {@link copyFormatFor} allows it. */
  format: 'auto' | 'binary' | 'text';
}

/**
 * The COPY format a read uses: binary when no schema reads the values as text and every column's type
 * has a binary decoder; `format: 'binary'` refuses a read that cannot be binary, naming why.
 */
export function copyFormatFor(fields: readonly Field[], schema: boolean, format: CopyRead['format'], sql: string): 'binary' | 'text' {
  if (format === 'text') return 'text';
  const other = fields.find((field) => binaryWireOf(field.oid) === undefined);
  if (format === 'auto') return schema || other !== undefined ? 'text' : 'binary';
  if (schema) throw new SluiceError('INVALID_OPTION', "postgres(): copyFormat: 'binary' reads by the columns' types, without a schema: remove `schema` or use copyFormat: 'auto'.", { option: 'copyFormat', query: sql });
  if (other !== undefined) {
    throw new SluiceError('INVALID_OPTION', `postgres(): copyFormat: 'binary' cannot read column ${JSON.stringify(other.name)} (type oid ${other.oid}): Sluice reads only bool, int2/4/8, float4/8, numeric, date, timestamp(tz), text, varchar, char, name, json, jsonb and uuid in binary. Cast it (::text) or use copyFormat: 'auto'.`, { option: 'copyFormat', query: sql, column: other.name });
  }
  return 'binary';
}

export async function* readCopy(client: pg.PoolClient, connection: ResolvedConnection, read: CopyRead, context: SourceContext): AsyncGenerator<Batch> {
  const sql = limitedSql(read.source, context.limit);
  const fields = await describeFields(client, sql, undefined, connection);
  const origin: BatchOrigin = { query: read.source };
  const plans = read.plans(fields);
  const binary = copyFormatFor(fields, plans !== undefined, read.format, read.source) === 'binary';
  const copySql = `COPY (${sql}) TO STDOUT${binary ? ' (FORMAT binary)' : ''}`;
  context.engine('postgres copy', binary ? 'binary format' : 'text format');
  const stream = client.query(pgCopyStreams().to(copySql));
  let rowNumber = 1;
  let bytesRead = 0;
  const wrap = (error: unknown) => wrapPgError(error, { operation: 'cursor', query: copySql, row: rowNumber, connection });
  const positions = plans === undefined ? undefined : positionsOf(plans, fields);
  const widen = { warn: context.warn };
  const texts = plans === undefined ? new TextColumns(fields, read.dictionaryCap) : undefined;
  const makeDecoder = (): CopyDecoder =>
    plans !== undefined
      ? new CopySchemaDecoder(fields, plans, positions!, read.batchRows(), widen)
      : binary
        ? new CopyBinaryDecoder(fields, texts!, texts!.rowsPerBatch(read.batchRows()))
        : new CopyTextDecoder(fields, texts!, texts!.rowsPerBatch(read.batchRows()));
  let decoder = makeDecoder();
  /** The decoder's batch, or undefined when every row of it was rejected; a new decoder takes the next rows. */
  const take = async (last = false): Promise<Batch | undefined> => {
    const batch = await decoder.flush(origin, rowNumber, read.source, context);
    rowNumber += decoder.length;
    if (!last) decoder = makeDecoder();
    return batch.length > 0 ? batch : undefined;
  };
  let carry: Buffer | undefined;
  const iterator = stream[Symbol.asyncIterator]();
  const onAbort = () => stream.destroy(context.signal.reason instanceof Error ? context.signal.reason : new Error('aborted'));
  context.signal.addEventListener('abort', onAbort, { once: true });
  const nextChunk = async (): Promise<Buffer | undefined> => {
    let next: IteratorResult<Buffer>;
    try {
      next = await iterator.next();
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      throw wrap(error);
    }
    if (next.done) return undefined;
    bytesRead += next.value.length;
    return next.value;
  };
  try {
    if (binary) {
      // Tuples carry their lengths, not a terminator: the decoder takes the whole ones of each chunk,
      // and the rest (a tuple not yet whole) starts the next.
      let header = true;
      for (let chunk = await nextChunk(); chunk !== undefined; chunk = await nextChunk()) {
        const buffer = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
        carry = undefined;
        let position = 0;
        if (header) {
          position = binaryHeaderLength(buffer, copySql);
          if (position < 0) {
            carry = buffer;
            continue;
          }
          header = false;
        }
        for (;;) {
          position = decoder.fill(buffer, position, buffer.length);
          if (!decoder.full) break;
          const batch = await take();
          if (batch !== undefined) yield batch;
        }
        if (position < buffer.length) carry = buffer.subarray(position);
        context.progress(bytesRead);
      }
      if (carry !== undefined && carry.length > 0) throw wrap(new Error('the binary COPY stream ended inside a row'));
      if (decoder.length > 0) {
        const batch = await take(true);
        if (batch !== undefined) yield batch;
      }
      return;
    }
    for (let chunk = await nextChunk(); chunk !== undefined; chunk = await nextChunk()) {
      let position = 0;
      if (carry !== undefined) {
        // A row split across chunks: join only its two pieces, not the whole chunk.
        const rowEnd = chunk.indexOf(NEWLINE) + 1;
        if (rowEnd === 0) {
          carry = Buffer.concat([carry, chunk]);
          continue;
        }
        const row = Buffer.concat([carry, chunk.subarray(0, rowEnd)]);
        carry = undefined;
        decoder.fill(row, 0, row.length);
        position = rowEnd;
        if (decoder.full) {
          const batch = await take();
          if (batch !== undefined) yield batch;
        }
      }
      const end = chunk.lastIndexOf(NEWLINE) + 1;
      if (end === 0) {
        carry = chunk.subarray(position);
        context.progress(bytesRead);
        continue;
      }
      while (position < end) {
        position = decoder.fill(chunk, position, end);
        if (decoder.full) {
          const batch = await take();
          if (batch !== undefined) yield batch;
        }
      }
      if (end < chunk.length) carry = chunk.subarray(Math.max(end, position));
      context.progress(bytesRead);
    }
    if (decoder.length > 0) {
      const batch = await take(true);
      if (batch !== undefined) yield batch;
    }
  } finally {
    context.signal.removeEventListener('abort', onAbort);
    if (!stream.readableEnded) stream.destroy();
  }
}
