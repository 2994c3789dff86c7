/**
 * The cursor reader: the query's rows through pg-cursor, a page (≤ one batch) per round trip, the next
 * page requested while this one is decoded. pg-cursor is used directly, through its public API: `read`'s
 * callback hands over the result, whose fields describe the columns.
 */
import type pg from 'pg';
import type { Batch } from '../../batch/batch.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ResolvedConnection } from './connection.ts';
import { pageDecoder, type PageDecoder } from './decode-cursor.ts';
import { type PgCursor, pgCursor, type TextRow } from './driver.ts';
import { wrapPgError } from './errors.ts';
import { type Field, fieldsOf, IDENTITY_TYPES, STRING_BATCH_ROWS } from './fields.ts';
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
        decode = pageDecoder(fields, read.plans(fields), read.source, context);
        if (read.incremental !== undefined) {
          watermarkAt = [fields.findIndex((field) => field.name === read.incremental!.column), fields.findIndex((field) => field.name === read.incremental!.key)];
        }
      }
      if (rows.length > remaining) rows.length = remaining;
      remaining -= rows.length;
      if (read.incremental !== undefined && rows.length > 0) {
        const { column, key } = read.incremental;
        const last = rows[rows.length - 1];
        // Rows come in (column, key) order: the page's last row is the new watermark, committed with the sink.
        context.state?.set(WATERMARK_STATE_KEY, { column, key, value: last[watermarkAt![0]]!, keyValue: last[watermarkAt![1]]! } satisfies Watermark);
      }
      const more = !done && remaining > 0;
      if (more) pending = fetch();
      if (rows.length > 0) {
        const batch = await decode(rows, rowNumber);
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
