/**
 * The cursor reader: the query's rows through pg-cursor, a page (≤ one batch) per round trip, the next
 * page requested while this one is decoded. pg-cursor is used directly, through its public API: `read`'s
 * callback hands over the result, whose fields describe the columns. Where the rows can come in the
 * binary format (cursorFormatFor), a portal of binary rows is read below pg instead (cursor-binary.ts).
 */
import type pg from 'pg';
import { type Batch, traceRows } from '../../batch/batch.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ResolvedConnection } from './connection.ts';
import { pageDecoder, type PageDecoder } from './decode-cursor.ts';
import { type PgCursor, pgCursor, type TextRow } from './driver.ts';
import { wrapPgError } from './errors.ts';
import { SluiceError } from '../../core/errors.ts';
import { binaryWireOf } from './copy-binary.ts';
import { readBinaryCursor } from './cursor-binary.ts';
import { describeFields, type Field, fieldsOf, IDENTITY_TYPES, STRING_BATCH_ROWS } from './fields.ts';
import { WATERMARK_STATE_KEY, type Watermark } from './query.ts';

const CLOSE_TIMEOUT_MS = 5000;

export interface CursorRead {
  /** The statement to run (with its incremental wrapper, if any) and its parameters. */
  sql: string;
  params: unknown[] | undefined;
  /** The user's statement, for errors and row origins. */
  source: string;
  incremental: { column: string; key: string } | undefined;
  /** Rows per page, asked again for each page (the budget may change it). */
  batchRows: () => number;
  /** The plans of a schema, from the result's fields, or undefined to decode by the fields' types. */
  plans: (fields: Field[]) => ColumnPlan[] | undefined;
  /** `auto`: binary rows where {@link cursorFormatFor} allows it. */
  format: 'auto' | 'binary' | 'text';
  dictionaryCap: number | undefined;
}

/**
 * Whether a cursor read takes binary rows (cursor-binary.ts): no schema reads the values as text, no
 * watermark is kept, every column's type has a binary decoder; `format: 'binary'` refuses a read that
 * cannot be binary, naming why.
 */
export function cursorFormatFor(fields: readonly Field[], schema: boolean, incremental: boolean, format: CursorRead['format'], sql: string): 'binary' | 'text' {
  if (format === 'text') return 'text';
  const other = fields.find((field) => binaryWireOf(field.oid) === undefined);
  if (format === 'auto') return schema || incremental || other !== undefined ? 'text' : 'binary';
  if (schema) throw new SluiceError('INVALID_OPTION', "postgres(): cursorFormat: 'binary' reads by the columns' types, without a schema: remove `schema` or use cursorFormat: 'auto'.", { option: 'cursorFormat', query: sql });
  if (other !== undefined) {
    throw new SluiceError('INVALID_OPTION', `postgres(): cursorFormat: 'binary' cannot read column ${JSON.stringify(other.name)} (type oid ${other.oid}): the binary rows are those copyFormat: 'binary' reads. Cast it (::text) or use cursorFormat: 'auto'.`, { option: 'cursorFormat', query: sql, column: other.name });
  }
  return 'binary';
}

interface Page {
  rows: TextRow[];
  result: pg.QueryResult | undefined;
}

function readPage(cursor: PgCursor, rows: number): Promise<Page> {
  return new Promise((resolve, reject) => {
    cursor.read(rows, (error, page, result) => (error ? reject(error) : resolve({ rows: page, result })));
  });
}

export async function* readCursor(client: pg.PoolClient, connection: ResolvedConnection, read: CursorRead, context: SourceContext): AsyncGenerator<Batch> {
  if (read.format !== 'text') {
    const fields = await describeFields(client, read.sql, read.params, connection);
    if (cursorFormatFor(fields, read.plans(fields) !== undefined, read.incremental !== undefined, read.format, read.source) === 'binary') {
      context.engine('postgres cursor', 'binary rows');
      const wrap = (error: unknown, row: number) => wrapPgError(error, { operation: 'cursor', query: read.source, row, connection });
      yield* readBinaryCursor(client, { sql: read.sql, params: read.params, source: read.source, fields, batchRows: read.batchRows, dictionaryCap: read.dictionaryCap }, context, wrap);
      return;
    }
  }
  const cursor = client.query(new (pgCursor())(read.sql, read.params, { rowMode: 'array', types: IDENTITY_TYPES }));
  let remaining = context.limit ?? Infinity;
  let rowNumber = 1;
  let closed = false;
  const wrap = (error: unknown) => wrapPgError(error, { operation: 'cursor', query: read.source, row: rowNumber, connection });
  const fetch = (): { page: Promise<Page>; asked: number } => {
    const asked = Math.min(read.batchRows(), STRING_BATCH_ROWS, remaining);
    const page = readPage(cursor, asked);
    // Read ahead: the next page travels while this one is decoded. A failure is seen when it is awaited.
    page.catch(() => {});
    return { page, asked };
  };
  // Rows of the page the decoder rejected (1-based row numbers): not in the batch, so not in its trace.
  const rejected: number[] = [];
  const decodeContext: SourceContext =
    read.incremental === undefined
      ? context
      : {
          ...context,
          reject: (violation, location) => {
            if (location.row !== undefined) rejected.push(location.row);
            return context.reject(violation, location);
          },
        };
  try {
    let decode: PageDecoder | undefined;
    let watermarkAt: [number, number] | undefined;
    let pending: { page: Promise<Page>; asked: number } | undefined = fetch();
    for (;;) {
      const current: { page: Promise<Page>; asked: number } = pending!;
      let page: Page;
      try {
        page = await abortable(current.page, context.signal);
      } catch (error) {
        if (context.signal.aborted) throw error;
        throw wrap(error);
      }
      const rows = page.rows;
      const done = rows.length < current.asked;
      pending = undefined;
      if (decode === undefined) {
        // The first page always comes with the result (its row description), even with no rows.
        const fields = fieldsOf(page.result?.fields ?? [], read.source);
        decode = pageDecoder(fields, read.plans(fields), read.source, decodeContext);
        if (read.incremental !== undefined) {
          watermarkAt = [fields.findIndex((field) => field.name === read.incremental!.column), fields.findIndex((field) => field.name === read.incremental!.key)];
        }
      }
      if (rows.length > remaining) rows.length = remaining;
      remaining -= rows.length;
      const watermarkOf =
        read.incremental === undefined || rows.length === 0 ? undefined : pageWatermarks(rows, read.incremental, watermarkAt!);
      // Rows come in (column, key) order: the page's last row is the watermark when every row of it is
      // written. A batch cut short (take) commits its last written row's instead, through its trace.
      if (watermarkOf !== undefined) context.state?.set(WATERMARK_STATE_KEY, watermarkOf(rows.length - 1));
      const more = !done && remaining > 0;
      if (more) pending = fetch();
      if (rows.length > 0) {
        rejected.length = 0;
        const batch = await decode(rows, rowNumber);
        const kept = watermarkOf === undefined ? undefined : keptRows(rows.length, rejected, rowNumber);
        if (kept?.length === batch.length) traceRows(batch, { rows: kept, stateAt: (index) => ({ [WATERMARK_STATE_KEY]: watermarkOf!(index) }) });
        rowNumber += rows.length;
        if (batch.length > 0) yield batch;
      }
      if (!more) break;
    }
    closed = true;
    await withTimeout(cursor.close(), CLOSE_TIMEOUT_MS).catch((error: unknown) => {
      throw wrap(error);
    });
  } finally {
    if (!closed && !context.signal.aborted) {
      // Stopped early (take, limit) or failed: close the portal if the connection still answers; the
      // caller destroys the connection anyway if this does not finish.
      await withTimeout(cursor.close(), CLOSE_TIMEOUT_MS).catch(() => {});
    }
  }
}

/** The watermark at each row of a page, keeping only the two texts it needs (not the page's rows). */
function pageWatermarks(rows: TextRow[], incremental: { column: string; key: string }, [at, keyAt]: [number, number]): (index: number) => Watermark {
  const values = rows.map((row) => row[at]!);
  const keyValues = rows.map((row) => row[keyAt]!);
  return (index) => ({ column: incremental.column, key: incremental.key, value: values[index], keyValue: keyValues[index] });
}

/** Indices in the page of the rows the batch kept: all but the rejected ones (row numbers from `firstRow`). */
function keptRows(count: number, rejected: readonly number[], firstRow: number): Uint32Array {
  const rows = new Uint32Array(count);
  let kept = 0;
  let next = 0;
  for (let i = 0; i < count; i++) {
    if (next < rejected.length && rejected[next] === firstRow + i) next++;
    else rows[kept++] = i;
  }
  return rows.subarray(0, kept);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from PostgreSQL within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
