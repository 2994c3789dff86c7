/**
 * Cursor mode in the binary result format, its DataRows read from the socket below pg (socket-tap.ts).
 * pg-protocol makes a JS string of every field of every DataRow, whatever its format; here a portal is
 * bound with binary results (Parse, Bind, Describe, then Execute a page at a time, as pg-cursor does)
 * and each DataRow, laid out as a binary COPY tuple is, goes to the same tuple decoder as binary COPY:
 * numbers, dates and timestamps straight into typed arrays, text by its bytes into dictionaries. pg
 * still runs the connection, sends the messages and reports errors; it only never sees the rows.
 *
 * Used when no schema reads the values as text, no watermark is kept (its value is the server's text),
 * and every column has a binary decoder; cursor-reader.ts reads the rest through pg-cursor.
 */
import type pg from 'pg';
import type { Batch, BatchOrigin } from '../../batch/batch.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import { CopyBinaryDecoder } from './copy-binary.ts';
import { TextColumns } from './decode-copy.ts';
import { pgPrepareValue } from './driver.ts';
import type { Field } from './fields.ts';
import { FramedReader, type PgConnectionStream, TappedQuery } from './socket-tap.ts';

const DATA_ROW = 0x44; // D
const PORTAL_SUSPENDED = 0x73; // s
const COMMAND_COMPLETE = 0x43; // C

/** The part of pg's Connection the portal drives (pg does not type it). */
interface PgConnection extends PgConnectionStream {
  parse(config: { text: string }, more: boolean): void;
  bind(config: { portal: string; values: unknown[]; binary: boolean }, more: boolean): void;
  describe(config: { type: 'P'; name: string }, more: boolean): void;
  execute(config: { portal: string; rows: number }, more: boolean): void;
  close(config: { type: 'P'; name: string }, more: boolean): void;
  flush(): void;
  sync(): void;
}

let portals = 0;

/** A pg Submittable: a named portal with binary results, its rows read through the tap. */
class BinaryPortal extends TappedQuery {
  private connection: PgConnection | undefined;
  private readonly name = `sluice_${++portals}`;

  private readonly text: string;
  private readonly values: unknown[];
  constructor(text: string, values: readonly unknown[] | undefined) {
    super();
    this.text = text;
    this.values = (values ?? []).map((value) => pgPrepareValue(value));
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    this.tap.attach(connection);
    connection.parse({ text: this.text }, true);
    connection.bind({ portal: this.name, values: this.values, binary: true }, true);
    connection.describe({ type: 'P', name: this.name }, true);
    connection.flush();
  }

  /** Asks for the next `rows` rows of the portal. */
  execute(rows: number): void {
    this.connection!.execute({ portal: this.name, rows }, true);
    this.connection!.flush();
  }

  /** Closes the portal and ends the query: the server answers CloseComplete and ReadyForQuery. */
  close(): void {
    this.connection!.close({ type: 'P', name: this.name }, true);
    this.connection!.sync();
  }
}

export interface BinaryCursorRead {
  sql: string;
  params: unknown[] | undefined;
  /** The user's statement, for errors and row origins. */
  source: string;
  fields: Field[];
  batchRows: () => number;
  dictionaryCap: number | undefined;
}

/** The rows of `read.sql` in batches of ≤ batchRows, a page per batch, the next page asked before this one is decoded. */
export async function* readBinaryCursor(client: pg.PoolClient, read: BinaryCursorRead, context: SourceContext, wrap: (error: unknown, row: number) => Error): AsyncGenerator<Batch> {
  const portal = new BinaryPortal(read.sql, read.params);
  let remaining = context.limit ?? Infinity;
  let asked = 0;
  let pagesOut = 0;
  let complete = false;
  let closing = false;
  const ask = () => {
    const rows = Math.max(1, Math.min(read.batchRows(), remaining));
    remaining -= rows;
    pagesOut++;
    portal.execute(rows);
    return rows;
  };
  const reader = new FramedReader(
    portal.tap,
    DATA_ROW,
    false,
    (type) => {
      if (type === PORTAL_SUSPENDED) pagesOut--;
      else if (type === COMMAND_COMPLETE) {
        pagesOut--;
        complete = true;
      }
    },
    read.sql,
  );
  const texts = new TextColumns(read.fields, read.dictionaryCap);
  const origin: BatchOrigin = { query: read.source };
  let rowNumber = 1;
  const onAbort = () => portal.tap.stop();
  context.signal.addEventListener('abort', onAbort, { once: true });
  try {
    client.query(portal as unknown as pg.QueryConfig);
    asked = ask();
    // Read ahead: one page travels while the one before it is decoded.
    if (remaining > 0) ask();
    let decoder = new CopyBinaryDecoder(read.fields, texts, texts.rowsPerBatch(asked));
    const take = async () => {
      const batch = await decoder.flush(origin, rowNumber, read.source, context);
      rowNumber += decoder.length;
      return batch;
    };
    for (;;) {
      while (reader.run(decoder)) {
        const batch = await take();
        decoder = new CopyBinaryDecoder(read.fields, texts, texts.rowsPerBatch(read.batchRows()));
        if (batch.length > 0) yield batch;
      }
      if (reader.done) break;
      if (!closing && (complete || (pagesOut === 0 && remaining <= 0))) {
        closing = true;
        portal.close();
      } else if (!closing && pagesOut < 2 && remaining > 0) ask();
      const chunk = await portal.tap.next();
      if (chunk === undefined) break;
      reader.push(chunk);
    }
    if (context.signal.aborted) throw context.signal.reason;
    if (portal.error !== undefined) throw wrap(portal.error, rowNumber + decoder.length);
    if (!reader.done) throw wrap(new Error('the connection ended before the query did'), rowNumber + decoder.length);
    if (decoder.length > 0) {
      const batch = await take();
      if (batch.length > 0) yield batch;
    }
  } finally {
    context.signal.removeEventListener('abort', onAbort);
    // Stopped early or failed: the caller ends the connection.
    if (!reader.done) portal.tap.abandon();
  }
}
