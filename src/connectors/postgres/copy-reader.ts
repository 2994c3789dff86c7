/**
 * The COPY reader: `COPY (query) TO STDOUT`, network chunks handed to a decoder row by row. In the
 * binary format (copy-binary.ts) when every column has a binary decoder and no schema reads the text,
 * its messages read from the socket below pg (socket-tap.ts); else in the text format through
 * pg-copy-streams, where a row split across two chunks is joined from its two pieces only.
 * Stopping early (take, limit, abort) destroys the stream, and the caller then ends the connection:
 * COPY cannot be cancelled in place.
 */
import type pg from 'pg';
import type { Batch, BatchOrigin } from '../../batch/batch.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ResolvedConnection } from './connection.ts';
import { SluiceError } from '../../core/errors.ts';
import { binaryWireOf, CopyBinaryDecoder } from './copy-binary.ts';
import { type CopyDecoder, CopySchemaDecoder, CopyTextDecoder, TextColumns } from './decode-copy.ts';
import { pgCopyStreams } from './driver.ts';
import { wrapPgError } from './errors.ts';
import { describeFields, type Field, positionsOf } from './fields.ts';
import { limitedSql } from './query.ts';
import { FramedReader, type PgConnectionStream, TappedQuery } from './socket-tap.ts';

const NEWLINE = 0x0a;
const COPY_DATA = 0x64; // d

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
  if (binary) {
    yield* readBinary(client, copySql, () => decoder as CopyBinaryDecoder, take, (bytes) => context.progress((bytesRead += bytes)), wrap, context.signal);
    return;
  }
  const stream = client.query(pgCopyStreams().to(copySql));
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

/**
 * `COPY … TO STDOUT (FORMAT binary)` read from the socket below pg (socket-tap.ts): CopyData messages
 * go to the tuple decoder where they lie, the rest to pg, which runs the query and reports its errors.
 */
class CopyOutQuery extends TappedQuery {
  readonly text: string;
  constructor(text: string) {
    super();
    this.text = text;
  }

  submit(connection: PgConnectionStream & { query(text: string): void }): void {
    this.tap.attach(connection);
    connection.query(this.text);
  }
}

async function* readBinary(
  client: pg.PoolClient,
  copySql: string,
  current: () => CopyBinaryDecoder,
  take: (last?: boolean) => Promise<Batch | undefined>,
  progress: (bytes: number) => void,
  wrap: (error: unknown) => Error,
  signal: AbortSignal,
): AsyncGenerator<Batch> {
  const query = new CopyOutQuery(copySql);
  client.query(query as unknown as pg.QueryConfig);
  const reader = new FramedReader(query.tap, COPY_DATA, true, () => {}, copySql);
  const onAbort = () => query.tap.stop();
  signal.addEventListener('abort', onAbort, { once: true });
  let decoder = current();
  let trailer = false;
  try {
    for (;;) {
      while (reader.run(decoder)) {
        trailer ||= decoder.ended;
        const batch = await take();
        decoder = current();
        if (batch !== undefined) yield batch;
      }
      trailer ||= decoder.ended;
      if (reader.done) break;
      const chunk = await query.tap.next();
      if (chunk === undefined) break;
      progress(chunk.length);
      reader.push(chunk);
    }
    if (signal.aborted) throw signal.reason;
    if (query.error !== undefined) throw wrap(query.error);
    if (!reader.done) throw wrap(new Error('the connection ended before the binary COPY did'));
    if (!trailer || reader.unfinished) throw wrap(new Error('the binary COPY stream ended inside a row'));
    if (decoder.length > 0) {
      const batch = await take(true);
      if (batch !== undefined) yield batch;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (!reader.done) query.tap.abandon();
  }
}
