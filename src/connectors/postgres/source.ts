/**
 * PostgreSQL source: a query's result as typed columnar batches, read through a server-side cursor
 * (pg + pg-query-stream's pg-cursor) or, with `mode: 'copy'`, through `COPY (query) TO STDOUT`.
 *
 * pg's type parsers are replaced by identity parsers and rows come as arrays of text: Sluice parses the
 * text itself straight into typed arrays (pg's defaults make local-time Date objects of dates and strings
 * of int8, and cost a JS object per row).
 */
import type pg from 'pg';
import { pgCopyStreams, pgQueryStream } from './driver.ts';
import type { z } from 'zod';
import { type AnyRow, Batch, type BatchOrigin } from '../../batch/batch.ts';
import { bitmapBytes } from '../../batch/bitmap.ts';
import { Column } from '../../batch/column.ts';
import { type DType, NUMERIC_ARRAY, type TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import type { RunContext, Source, SourceContext, SourceDescription } from '../../contracts/contracts.ts';
import { type PgConnectionOptions, type ResolvedConnection, resolveConnection, withStatementTimeout } from './connection.ts';
import { wrapPgError } from './errors.ts';
import { createPoolRegistry, type PoolRegistry } from './pools.ts';
import { type QualifiedName, quoteIdent, quoteQualified } from './identifiers.ts';
import { dtypeForOid, PG_OID } from './types.ts';
import {
  parsePgDate,
  parsePgDateBytes,
  parsePgTimestamp,
  parsePgTimestampBytes,
  unescapeCopyText,
} from './text-values.ts';
import { compileSchema, type CompileOptions } from '../../schema/compile.ts';
import { clonePlans, RowDecoder } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { Dictionary } from '../../batch/dictionary.ts';
import { ByteDictionary, decodeLatin1, decodeUtf8, parseFloat64, parseInteger } from '../../codec/bytes.ts';
import type { RowOf } from '../../schema/row-type.ts';

/** A query with `$1`, `$2`, … placeholders and their values. */
export interface PostgresQueryInput {
  query: string;
  /** Values of `$1`, `$2`, …: always sent as parameters, never spliced into the SQL. */
  params?: readonly unknown[];
}

/** A table, with projection and filter pushed into the SQL. */
export interface PostgresTableInput<K extends string = string> {
  /** `orders`, `sales.orders`, `"Odd.Name"` or `{ schema, table }`; always quoted. */
  table: string | QualifiedName;
  /** Columns to select (quoted). Omitted: the schema's columns when there is a schema, else `*`. */
  columns?: readonly K[];
  /**
   * A raw SQL condition, pasted as `WHERE (…)`: it is SQL, not a value. Put every value in `params` as
   * `$1`, `$2`, … and never build this string from untrusted input.
   * @example { table: 'orders', where: 'ordered_at >= $1 and status = $2', params: ['2025-01-01', 'paid'] }
   */
  where?: string;
  params?: readonly unknown[];
}

export type PostgresInput<K extends string = string> = PostgresQueryInput | PostgresTableInput<K>;

export interface PostgresSourceOptions<S = unknown> extends CompileOptions {
  /** A URL or a pg PoolConfig. @default process.env.DATABASE_URL */
  connection?: PgConnectionOptions;
  /**
   * A zod object: columns are typed and checked by it (rows that break it go to `context.reject`).
   * Omitted: each column's dtype comes from its PostgreSQL type (see the README's mapping table).
   */
  schema?: S;
  /** At most this many rows per batch; the memory budget may ask for fewer. @default the run's batch size */
  batchRows?: number;
  /**
   * - `cursor`: a server-side cursor, `batchRows` rows per round trip; takes `params`.
   * - `copy`: `COPY (query) TO STDOUT`, parsed from the text format; about half the CPU per row of
   *   `cursor` (text columns come dictionary-encoded until they pass `dictionaryCap` distinct values),
   *   but takes no `params` (COPY has no parameters), and stopping early (`take`) closes the connection
   *   instead of the cursor.
   * @default 'cursor'
   */
  mode?: 'cursor' | 'copy';
  /** Server-side `statement_timeout` in ms for the query (0: none). @default the server's */
  statementTimeout?: number;
  /**
   * Incremental loads: each run reads only rows past the watermark the last committed run left, as
   * `WHERE (column, key) > (last value, last key) ORDER BY column, key`. `key` (unique, not null, e.g.
   * the primary key) breaks ties on `column`, so rows sharing the last watermark value are neither skipped
   * nor read twice. Both must be columns of the result. Rows whose `column` is NULL are never read. The
   * watermark (the server's own text of both values, so no precision is lost) advances only when the
   * sink commits: with `toPostgres` and a PostgreSQL state store on the same database, in the sink's
   * transaction. Needs a state store (`etl run` / `etl schedule`); `mode: 'cursor'` only.
   * A row whose `column` is set to a value below the watermark later (e.g. `updated_at` taken at the
   * start of a long transaction that commits after a run) is not seen: use a column set in order of commit.
   * @example postgres({ table: 'orders' }, { incremental: { column: 'updated_at', key: 'id' } })
   */
  incremental?: { column: string; key: string };
}

/** Where the source keeps its watermark in the run's incremental state. */
export const WATERMARK_STATE_KEY = 'postgres.watermark';

interface Watermark {
  column: string;
  key: string;
  /** The server's text of the last row's column and key. */
  value: string;
  keyValue: string;
}

/**
 * Reads a PostgreSQL query or table in batches of typed columns.
 *
 * @example
 * postgres({ table: 'orders', columns: ['id', 'status', 'total'], where: 'total > $1', params: [100] })
 * postgres({ query: 'select id, sum(total) as total from orders group by id' }, { mode: 'copy' })
 */
export function postgres<S extends z.ZodObject | undefined = undefined, const K extends string = string>(
  input: PostgresInput<K>,
  options: PostgresSourceOptions<S> = {},
): Source<RowOf<S, K>> {
  return new PostgresSource(input, options as PostgresSourceOptions) as unknown as Source<RowOf<S, K>>;
}

/** How a column's text becomes its stored value (fast path, types from the result's fields). */
const enum Kind {
  Bool,
  Integer,
  Float,
  Date,
  Timestamp,
  Text,
  /** Text stored as codes into a dictionary shared by the run's batches (COPY mode, see TextColumns). */
  Dictionary,
}

interface Field {
  name: string;
  dtype: DType;
  kind: Kind;
  oid: number;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(PG_OID).map(([name, oid]) => [oid, name]));
const identity = (value: string) => value;
/** pg parses nothing: every value stays the server's text. */
const IDENTITY_TYPES = { getTypeParser: () => identity };

/** pg-cursor, as pg-query-stream holds it. */
interface Cursor {
  read(rows: number): Promise<(string | null)[][]>;
  close(): Promise<void>;
  _result: { fields: pg.FieldDef[] };
}

function kindOf(dtype: DType): Kind {
  switch (dtype) {
    case 'bool':
      return Kind.Bool;
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return Kind.Integer;
    case 'float32':
    case 'float64':
      return Kind.Float;
    case 'date':
      return Kind.Date;
    case 'timestamp':
      return Kind.Timestamp;
    default:
      return Kind.Text;
  }
}

const CLOSE_TIMEOUT_MS = 5000;
/**
 * Rows per batch when a batch holds string arrays (cursor pages, COPY text columns past their
 * dictionary), whatever the batch size: V8 puts arrays past ~16K elements (128 KB) in its large-object
 * space, where allocating one measured ~0.6 ms (vs ~5 µs below), and their strings outlive more
 * scavenges. pg-cursor also collects each page in a growing array. The read-ahead hides the extra
 * round trips of smaller pages.
 */
const STRING_BATCH_ROWS = 8192;

class PostgresSource implements Source<AnyRow> {
  readonly kind = 'postgres';
  private readonly sql: string;
  private readonly params: unknown[] | undefined;
  private readonly connectionOptions: PgConnectionOptions | undefined;
  private readonly mode: 'cursor' | 'copy';

  constructor(
    private readonly input: PostgresInput,
    private readonly options: PostgresSourceOptions,
  ) {
    if (input === null || typeof input !== 'object' || (!('query' in input) && !('table' in input))) {
      throw new SluiceError('INVALID_OPTION', 'postgres() expects `{ query, params? }` or `{ table, columns?, where?, params? }`.');
    }
    const mode = options.mode ?? 'cursor';
    if (mode !== 'cursor' && mode !== 'copy') {
      throw new SluiceError('INVALID_OPTION', `Expected \`mode\` to be 'cursor' or 'copy'; got ${JSON.stringify(mode)}.`);
    }
    this.mode = mode;
    if (options.batchRows !== undefined && (!Number.isInteger(options.batchRows) || options.batchRows < 1)) {
      throw new SluiceError('INVALID_OPTION', `Expected \`batchRows\` to be a number from 1 and up; got ${String(options.batchRows)}.`);
    }
    this.params = input.params === undefined ? undefined : [...input.params];
    if (mode === 'copy' && this.params !== undefined && this.params.length > 0) {
      throw new SluiceError(
        'INVALID_OPTION',
        "mode: 'copy' cannot take `params` (COPY has no parameters, and Sluice never splices values into SQL): use mode: 'cursor'.",
      );
    }
    this.sql = 'query' in input ? stripSemicolon(input.query) : this.tableQuery(input);
    const incremental = options.incremental;
    if (incremental !== undefined) {
      if (typeof incremental?.column !== 'string' || incremental.column === '' || typeof incremental.key !== 'string' || incremental.key === '') {
        throw new SluiceError(
          'INVALID_OPTION',
          "Expected `incremental` to be { column, key }, e.g. { column: 'updated_at', key: 'id' }: `key` (unique, such as the primary key) orders rows that share a watermark value.",
        );
      }
      if (mode === 'copy') throw new SluiceError('INVALID_OPTION', "`incremental` reads with a cursor: remove mode: 'copy'.");
    }
    this.connectionOptions = withStatementTimeout(options.connection, options.statementTimeout);
  }

  private tableQuery(input: PostgresTableInput): string {
    let columns = input.columns;
    if (columns === undefined && this.options.schema !== undefined) columns = compileSchema(this.options.schema).columns.map((plan) => plan.name);
    if (columns !== undefined && columns.length === 0) throw new SluiceError('INVALID_OPTION', 'Expected `columns` to name at least one column.');
    const list = columns === undefined ? '*' : columns.map(quoteIdent).join(', ');
    let sql = `SELECT ${list} FROM ${quoteQualified(input.table)}`;
    if (input.where !== undefined && input.where.trim() !== '') sql += ` WHERE (${input.where})`;
    return sql;
  }

  /** Where it reads from, without the password. */
  get location(): string {
    let where: string;
    try {
      where = resolveConnection(this.connectionOptions).description;
    } catch {
      where = '(no connection: set DATABASE_URL)';
    }
    return `${where} ${'table' in this.input ? `table ${quoteQualified(this.input.table)}` : 'query'}`;
  }

  async describe(context: RunContext): Promise<SourceDescription> {
    const pools = createPoolRegistry();
    const connection = resolveConnection(this.connectionOptions);
    try {
      const client = await connect(pools, connection, this.connectionOptions);
      try {
        const fields = await describeFields(client, this.sql, this.params, connection);
        client.release();
        const plans = this.plansFor(fields, context);
        return {
          kind: 'postgres',
          location: this.location,
          engine: this.mode,
          columns: plans,
          notes: [`SQL: ${this.sql}`],
        };
      } catch (error) {
        client.release(true);
        throw error;
      }
    } finally {
      await pools.closeAll();
    }
  }

  private plansFor(fields: Field[], context: RunContext | undefined): ColumnPlan[] {
    void context;
    if (this.options.schema !== undefined) return this.schemaPlans(fields);
    return fields.map((field) => ({
      name: field.name,
      dtype: field.dtype,
      nullable: true,
      coerce: false,
      storesZodOutput: false,
      rule: TYPE_NAMES.get(field.oid) ?? `type oid ${field.oid}`,
      origin: 'schema',
    }));
  }

  private schemaPlans(fields: Field[]): ColumnPlan[] {
    const plans = clonePlans(compileSchema(this.options.schema, this.options).columns);
    const names = fields.map((field) => field.name);
    const wanted = 'table' in this.input ? this.input.columns : undefined;
    for (const plan of plans) {
      if (!names.includes(plan.name) && (wanted === undefined || wanted.includes(plan.name))) {
        throw new SluiceError(
          'SCHEMA_MISSING_COLUMN',
          `The query result has no column ${JSON.stringify(plan.name)} that the schema names (it has ${names.map((n) => JSON.stringify(n)).join(', ')}).`,
          { query: this.sql, column: plan.name },
        );
      }
    }
    return plans.filter((plan) => names.includes(plan.name));
  }

  async *read(context: SourceContext): AsyncGenerator<Batch> {
    context.engine(this.mode === 'copy' ? 'postgres copy' : 'postgres cursor');
    const pools = createPoolRegistry();
    const connection = resolveConnection(this.connectionOptions);
    try {
      const client = await connect(pools, connection, this.connectionOptions);
      let failed: unknown = true;
      try {
        if (this.mode === 'copy') yield* this.readCopy(client, connection, context);
        else yield* this.readCursor(client, connection, context);
        failed = undefined;
      } catch (error) {
        failed = error;
        throw error;
      } finally {
        // After an error, an abort or a COPY stopped early, the session state is unknown: end it.
        client.release(failed === undefined ? undefined : failed instanceof Error ? failed : true);
      }
    } finally {
      await pools.closeAll();
    }
  }

  private async *readCursor(client: pg.PoolClient, connection: ResolvedConnection, context: SourceContext): AsyncGenerator<Batch> {
    const query = this.runQuery(context);
    const stream = new (pgQueryStream())(query.sql, query.params, { rowMode: 'array', types: IDENTITY_TYPES });
    const cursor = stream.cursor as Cursor;
    let watermarkAt: [number, number] | undefined;
    client.query(stream);
    let remaining = context.limit ?? Infinity;
    let rowNumber = 1;
    let pending: { rows: Promise<(string | null)[][]>; asked: number } | undefined;
    let closed = false;
    const wrap = (error: unknown) => wrapPgError(error, { operation: 'cursor', query: this.sql, row: rowNumber, connection });
    const fetch = (): { rows: Promise<(string | null)[][]>; asked: number } => {
      const asked = Math.min(this.batchSize(context), STRING_BATCH_ROWS, remaining);
      const rows = cursor.read(asked);
      // Read ahead: the next page travels while this one is decoded. A failure is seen when it is awaited.
      rows.catch(() => {});
      return { rows, asked };
    };
    try {
      let decode: ((rows: (string | null)[][], firstRow: number) => Promise<Batch>) | undefined;
      pending = fetch();
      for (;;) {
        const current = pending!;
        let rows: (string | null)[][];
        try {
          rows = await abortable(current.rows, context.signal);
        } catch (error) {
          if (context.signal.aborted) throw error;
          throw wrap(error);
        }
        const done = rows.length < current.asked;
        pending = undefined;
        if (decode === undefined) decode = this.cursorDecoder(fieldsOf(cursor._result.fields, this.sql), context);
        if (rows.length > remaining) rows.length = remaining;
        remaining -= rows.length;
        if (this.options.incremental !== undefined && rows.length > 0) {
          const { column, key } = this.options.incremental;
          watermarkAt ??= [cursor._result.fields.findIndex((field) => field.name === column), cursor._result.fields.findIndex((field) => field.name === key)];
          const last = rows[rows.length - 1];
          // Rows come in (column, key) order: the page's last row is the new watermark, committed with the sink.
          context.state?.set(WATERMARK_STATE_KEY, { column, key, value: last[watermarkAt[0]]!, keyValue: last[watermarkAt[1]]! } satisfies Watermark);
        }
        const more = !done && remaining > 0;
        if (more) pending = fetch();
        if (rows.length > 0) {
          const first = rowNumber;
          const batch = await decode(rows, first);
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

  /** The query of one run: with `incremental`, only rows past the committed watermark, in watermark order. */
  private runQuery(context: SourceContext): { sql: string; params: unknown[] | undefined } {
    const incremental = this.options.incremental;
    if (incremental === undefined) return { sql: this.sql, params: this.params };
    if (context.state === undefined) context.warn('`incremental` has no state store in this run (use etl run or etl schedule): every row is read.');
    const column = quoteIdent(incremental.column);
    const key = quoteIdent(incremental.key);
    const params = [...(this.params ?? [])];
    let where = `${column} IS NOT NULL`;
    const last = context.state?.get<Watermark>(WATERMARK_STATE_KEY);
    if (last !== undefined && last.column === incremental.column && last.key === incremental.key) {
      params.push(last.value, last.keyValue);
      where += ` AND (${column}, ${key}) > ($${params.length - 1}, $${params.length})`;
    }
    return { sql: `SELECT * FROM (${this.sql}) AS sluice_incremental WHERE ${where} ORDER BY ${column}, ${key}`, params };
  }

  private batchSize(context: SourceContext): number {
    const fromBudget = context.batchRows();
    return Math.max(1, this.options.batchRows === undefined ? fromBudget : Math.min(this.options.batchRows, fromBudget));
  }

  /** A function from a page of cursor rows to a batch (or to fewer rows, the others rejected). */
  private cursorDecoder(fields: Field[], context: SourceContext): (rows: (string | null)[][], firstRow: number) => Promise<Batch> {
    if (this.options.schema === undefined) {
      return async (rows, firstRow) => {
        const { batch, bad } = decodeTextRows(fields, rows, { query: this.sql, row: firstRow });
        if (bad === null) return batch;
        return this.dropBadRows(batch, bad, fields, (i, c) => rows[i][c], context, firstRow);
      };
    }
    const plans = this.schemaPlans(fields);
    const positions = plans.map((plan) => fields.findIndex((field) => field.name === plan.name));
    const values: unknown[] = new Array(plans.length);
    const widen = (column: string, from: string, to: string, value: string) =>
      context.warn(`column ${JSON.stringify(column)} widened from ${from} to ${to} at value ${JSON.stringify(value)}`);
    return async (rows, firstRow) => {
      const decoder = new RowDecoder(plans, rows.length, widen);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        for (let c = 0; c < positions.length; c++) values[c] = row[positions[c]];
        const violation = decoder.append(values, i);
        if (violation !== null) await context.reject(violation, { query: this.sql, row: firstRow + i, column: violation.column });
      }
      const batch = decoder.flush({ query: this.sql, row: firstRow });
      // Row numbers of a query are in origin.row; `lines` are for sources with lines.
      return new Batch(batch.columns, batch.length, batch.origin);
    };
  }

  /** Rows whose text did not parse (a date PostgreSQL can hold and Sluice cannot, e.g. `infinity`) are rejected. */
  private async dropBadRows(
    batch: Batch,
    bad: Uint8Array,
    fields: Field[],
    valueAt: (row: number, column: number) => string | null,
    context: SourceContext,
    firstRow: number,
  ): Promise<Batch> {
    const keep = new Uint32Array(batch.length);
    let kept = 0;
    for (let i = 0; i < batch.length; i++) {
      if (bad[i] === 0) {
        keep[kept++] = i;
        continue;
      }
      const c = bad[i] - 1;
      const field = fields[c];
      const value = valueAt(i, c) ?? '';
      await context.reject(
        {
          column: field.name,
          position: c,
          value,
          rule: field.dtype,
          message: `column ${JSON.stringify(field.name)}: ${JSON.stringify(value)} does not fit a ${field.dtype} column`,
        },
        { query: this.sql, row: firstRow + i, column: field.name },
      );
    }
    return batch.take(keep, kept);
  }

  private async *readCopy(client: pg.PoolClient, connection: ResolvedConnection, context: SourceContext): AsyncGenerator<Batch> {
    let sql = this.sql;
    if (context.limit !== undefined) sql = `SELECT * FROM (${sql}) AS sluice_limited LIMIT ${Math.max(0, Math.floor(context.limit))}`;
    const fields = await describeFields(client, sql, undefined, connection);
    const origin: BatchOrigin = { query: this.sql };
    const copySql = `COPY (${sql}) TO STDOUT`;
    const stream = client.query(pgCopyStreams().to(copySql));
    let rowNumber = 1;
    let bytesRead = 0;
    const wrap = (error: unknown) => wrapPgError(error, { operation: 'cursor', query: copySql, row: rowNumber, connection });
    const plans = this.options.schema === undefined ? undefined : this.schemaPlans(fields);
    const positions = plans?.map((plan) => fields.findIndex((field) => field.name === plan.name));
    const widen = (column: string, from: string, to: string, value: string) =>
      context.warn(`column ${JSON.stringify(column)} widened from ${from} to ${to} at value ${JSON.stringify(value)}`);
    const texts = plans === undefined ? new TextColumns(fields, this.options.dictionaryCap) : undefined;
    const makeDecoder = () =>
      plans === undefined ? new CopyTextDecoder(fields, texts!, texts!.rowsPerBatch(this.batchSize(context))) : new CopySchemaDecoder(fields, plans, positions!, this.batchSize(context), widen);
    let decoder = makeDecoder();
    let carry: Buffer | undefined;
    const iterator = stream[Symbol.asyncIterator]();
    const onAbort = () => stream.destroy(context.signal.reason instanceof Error ? context.signal.reason : new Error('aborted'));
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await iterator.next();
        } catch (error) {
          if (context.signal.aborted) throw context.signal.reason;
          throw wrap(error);
        }
        if (next.done) break;
        const chunk = next.value;
        bytesRead += chunk.length;
        let position = 0;
        if (carry !== undefined) {
          // A row split across chunks: join only its two pieces, not the whole chunk.
          const rowEnd = chunk.indexOf(0x0a) + 1;
          if (rowEnd === 0) {
            carry = Buffer.concat([carry, chunk]);
            continue;
          }
          const row = Buffer.concat([carry, chunk.subarray(0, rowEnd)]);
          carry = undefined;
          decoder.fill(row, 0, row.length);
          position = rowEnd;
          if (decoder.full) {
            const batch = await decoder.flush(origin, rowNumber, this.sql, context);
            rowNumber += decoder.rowsTaken;
            if (batch.length > 0) yield batch;
            decoder = makeDecoder();
          }
        }
        const end = chunk.lastIndexOf(0x0a) + 1;
        if (end === 0) {
          carry = chunk.subarray(position);
          context.progress(bytesRead);
          continue;
        }
        while (position < end) {
          position = decoder.fill(chunk, position, end);
          if (decoder.full) {
            const batch = await decoder.flush(origin, rowNumber, this.sql, context);
            rowNumber += decoder.rowsTaken;
            if (batch.length > 0) yield batch;
            decoder = makeDecoder();
          }
        }
        if (end < chunk.length) carry = chunk.subarray(Math.max(end, position));
        context.progress(bytesRead);
      }
      if (decoder.length > 0) {
        const batch = await decoder.flush(origin, rowNumber, this.sql, context);
        if (batch.length > 0) yield batch;
      }
    } finally {
      context.signal.removeEventListener('abort', onAbort);
      if (!stream.readableEnded) stream.destroy();
    }
  }
}

/** The result's columns, refusing duplicate names (a batch is keyed by name). */
function fieldsOf(defs: readonly pg.FieldDef[], sql: string): Field[] {
  const seen = new Set<string>();
  return defs.map((def) => {
    if (seen.has(def.name)) {
      throw new SluiceError(
        'INVALID_OPTION',
        `The query returns two columns named ${JSON.stringify(def.name)}: give them distinct names with AS.`,
        { query: sql, column: def.name },
      );
    }
    seen.add(def.name);
    const dtype = dtypeForOid(def.dataTypeID);
    return { name: def.name, dtype, kind: kindOf(dtype), oid: def.dataTypeID };
  });
}

/** The result columns of a query, without running it to completion (`LIMIT 0`). */
async function describeFields(client: pg.PoolClient, sql: string, params: unknown[] | undefined, connection: ResolvedConnection): Promise<Field[]> {
  const text = `SELECT * FROM (${sql}) AS sluice_described LIMIT 0`;
  try {
    const result = await client.query({ text, values: params, rowMode: 'array', types: IDENTITY_TYPES });
    return fieldsOf(result.fields, sql);
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    // Report positions against the user's SQL, not the wrapper.
    const offset = 'SELECT * FROM ('.length;
    const position = (error as { position?: string }).position;
    if (position !== undefined) (error as { position?: string }).position = String(Math.max(1, Number(position) - offset));
    throw wrapPgError(error, { operation: 'query', query: sql, connection });
  }
}

async function connect(pools: PoolRegistry, connection: ResolvedConnection, options: PgConnectionOptions | undefined): Promise<pg.PoolClient> {
  let client: pg.PoolClient;
  // The pool sets up the session of each new connection (session.ts).
  try {
    client = await pools.pool(options).connect();
  } catch (error) {
    throw wrapPgError(error, { operation: 'connect', connection });
  }
  return client;
}

function stripSemicolon(sql: string): string {
  if (typeof sql !== 'string' || sql.trim() === '') throw new SluiceError('INVALID_OPTION', 'Expected `query` to be a non-empty SQL string.');
  return sql.replace(/;\s*$/, '');
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

/** Storage for one column of a batch under construction. */
interface Slot {
  dtype: DType;
  data: TypedArray | string[];
  validity: Uint8Array | null;
  dictionary?: Dictionary;
}

function allocateSlot(dtype: DType, rows: number): Slot {
  let data: TypedArray | string[];
  if (dtype === 'bool') data = new Uint8Array(bitmapBytes(rows));
  else if (dtype === 'string' || dtype === 'dictionary') data = new Array<string>(rows);
  else data = new NUMERIC_ARRAY[dtype](rows);
  return { dtype, data, validity: null };
}

function dictionarySlot(dictionary: Dictionary, rows: number): Slot {
  const data = dictionary.cap <= 65536 ? new Uint16Array(rows) : new Int32Array(rows);
  return { dtype: 'dictionary', data, validity: null, dictionary };
}

function markNull(slot: Slot, rows: number, index: number): void {
  if (slot.validity === null) slot.validity = new Uint8Array(bitmapBytes(rows)).fill(0xff);
  slot.validity[index >>> 3] &= ~(1 << (index & 7));
}

function finishColumn(dtype: DType, slot: Slot, length: number, capacity: number): Column {
  let data = slot.data;
  let validity = slot.validity;
  if (length < capacity) {
    if (Array.isArray(data)) data.length = length;
    else data = dtype === 'bool' ? data.slice(0, bitmapBytes(length)) : data.slice(0, length);
    if (validity !== null) validity = validity.slice(0, bitmapBytes(length));
  }
  if (validity !== null && length % 8 !== 0) validity[validity.length - 1] &= (1 << (length % 8)) - 1;
  return new Column(dtype, length, data, validity, slot.dictionary);
}

/**
 * Cursor rows (arrays of text) → a batch, column by column so each loop handles one type. A value that
 * does not parse marks its row in `bad` (1 + column position) for the caller to reject.
 */
function decodeTextRows(fields: Field[], rows: (string | null)[][], origin: BatchOrigin): { batch: Batch; bad: Uint8Array | null } {
  const length = rows.length;
  const columns: Record<string, Column> = {};
  let bad: Uint8Array | null = null;
  for (let c = 0; c < fields.length; c++) {
    const field = fields[c];
    const slot = allocateSlot(field.dtype, length);
    switch (field.kind) {
      case Kind.Text: {
        const strings = slot.data as string[];
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) markNull(slot, length, i);
          else strings[i] = value;
        }
        break;
      }
      case Kind.Integer:
      case Kind.Float: {
        const numbers = slot.data as TypedArray;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) markNull(slot, length, i);
          else numbers[i] = +value;
        }
        break;
      }
      case Kind.Bool: {
        const bits = slot.data as Uint8Array;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) markNull(slot, length, i);
          else if (value === 't') bits[i >>> 3] |= 1 << (i & 7);
        }
        break;
      }
      case Kind.Date:
      case Kind.Timestamp: {
        const numbers = slot.data as TypedArray;
        const isDate = field.kind === Kind.Date;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) {
            markNull(slot, length, i);
            continue;
          }
          const parsed = isDate ? parsePgDate(value) : parsePgTimestamp(value);
          // A date column is int32 days: it cannot hold ±infinity.
          if (parsed !== parsed || (isDate && !Number.isFinite(parsed))) {
            bad ??= new Uint8Array(length);
            if (bad[i] === 0) bad[i] = c + 1;
          } else numbers[i] = parsed;
        }
        break;
      }
    }
    columns[field.name] = finishColumn(slot.dtype, slot, length, length);
  }
  return { batch: new Batch(columns, length, origin), bad };
}

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

/** Distinct text a source keeps in its dictionaries, all columns together (see {@link TextColumns}). */
const DICTIONARY_BYTES = 8 * 1024 * 1024;

/**
 * The text columns of one COPY read: each starts dictionary-encoded, as codes into a dictionary shared
 * by every batch of the run. A value already seen, found by its bytes, makes no string at all, and the
 * batch holds a typed array rather than a string array (see {@link STRING_BATCH_ROWS} on large arrays).
 * (Cursor mode gets strings from pg: looking each up in a Map measured slower than keeping them.) A column falls back to plain strings for the rest of the
 * run once its dictionary reaches `cap` distinct values, or the dictionaries of all columns together
 * reach {@link DICTIONARY_BYTES}: high-cardinality text gains nothing from a dictionary, and it must
 * not grow without bound under the memory budget.
 */
class TextColumns {
  readonly dictionaries: (Dictionary | undefined)[];
  readonly keys: (ByteDictionary | undefined)[];
  private readonly kinds: Kind[];
  private bytes = 0;

  constructor(
    fields: readonly Field[],
    cap = 65536,
  ) {
    this.kinds = fields.map((field) => field.kind);
    this.dictionaries = fields.map((field) => (field.kind === Kind.Text ? new Dictionary(cap) : undefined));
    this.keys = fields.map((field) => (field.kind === Kind.Text ? new ByteDictionary(256) : undefined));
  }

  /** Batches with plain string columns stay under V8's large arrays (see {@link STRING_BATCH_ROWS}). */
  rowsPerBatch(rows: number): number {
    return this.dictionaries.every((dictionary, c) => dictionary !== undefined || this.kinds[c] !== Kind.Text) ? rows : Math.min(rows, STRING_BATCH_ROWS);
  }

  kindOf(field: Field, column: number): Kind {
    return this.dictionaries[column] === undefined ? field.kind : Kind.Dictionary;
  }

  /** The code of a value not yet in the column's byte keys, or -1: the column is plain strings from now on. */
  add(column: number, bytes: Uint8Array, start: number, end: number): number {
    const dictionary = this.dictionaries[column]!;
    const value = decodeUtf8(bytes, start, end);
    const before = dictionary.bytes;
    const code = this.bytes < DICTIONARY_BYTES ? dictionary.code(value) : -1;
    if (code < 0) {
      this.dictionaries[column] = undefined;
      this.keys[column] = undefined;
      return -1;
    }
    this.bytes += dictionary.bytes - before;
    this.keys[column]!.add(bytes, start, end, code);
    return code;
  }
}

/**
 * COPY text-format rows → typed columns, straight from the bytes (no string per number, date or
 * timestamp, nor per text value already in its column's dictionary). `fill` consumes whole rows from
 * `buffer[position, end)` until the batch is full.
 */
class CopyTextDecoder {
  length = 0;
  private readonly slots: Slot[];
  private readonly kinds: Kind[];
  private bad: Uint8Array | null = null;
  private badValues: Map<number, string> | null = null;

  constructor(
    private readonly fields: Field[],
    private readonly texts: TextColumns,
    private readonly capacity: number,
  ) {
    this.kinds = fields.map((field, c) => texts.kindOf(field, c));
    this.slots = fields.map((field, c) =>
      this.kinds[c] === Kind.Dictionary ? dictionarySlot(texts.dictionaries[c]!, capacity) : allocateSlot(field.dtype, capacity),
    );
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  get rowsTaken(): number {
    return this.length;
  }

  fill(buffer: Buffer, position: number, end: number): number {
    const slots = this.slots;
    const kinds = this.kinds;
    const columns = kinds.length;
    const capacity = this.capacity;
    let row = this.length;
    while (position < end && row < capacity) {
      for (let c = 0; c < columns; c++) {
        const start = position;
        let escaped = false;
        let byte = buffer[position];
        while (byte !== TAB && byte !== NEWLINE) {
          if (byte === BACKSLASH) escaped = true;
          byte = buffer[++position];
        }
        const fieldEnd = position;
        position++; // past the tab or newline
        const slot = slots[c];
        if (escaped && fieldEnd - start === 2 && buffer[start + 1] === 0x4e) {
          markNull(slot, capacity, row);
          continue;
        }
        switch (kinds[c]) {
          case Kind.Dictionary: {
            let code: number;
            if (escaped) {
              const text = unescapeCopyText(buffer, start, fieldEnd);
              code = this.texts.keys[c]!.lookup(text, 0, text.length);
              if (code < 0) code = this.addText(c, row, text, 0, text.length);
            } else {
              code = this.texts.keys[c]!.lookup(buffer, start, fieldEnd);
              if (code < 0) code = this.addText(c, row, buffer, start, fieldEnd);
            }
            if (code >= 0) (slot.data as TypedArray)[row] = code;
            break;
          }
          case Kind.Text:
            (slot.data as string[])[row] = escaped ? unescapeCopyText(buffer, start, fieldEnd).toString('utf8') : decodeUtf8(buffer, start, fieldEnd);
            break;
          case Kind.Integer:
            (slot.data as TypedArray)[row] = parseInteger(buffer, start, fieldEnd);
            break;
          case Kind.Float: {
            let value = parseFloat64(buffer, start, fieldEnd);
            if (value !== value) value = Number(decodeLatin1(buffer, start, fieldEnd)); // NaN, Infinity
            (slot.data as TypedArray)[row] = value;
            break;
          }
          case Kind.Bool:
            if (buffer[start] === 0x74) (slot.data as Uint8Array)[row >>> 3] |= 1 << (row & 7);
            break;
          case Kind.Date: {
            const days = parsePgDateBytes(buffer, start, fieldEnd);
            if (Number.isFinite(days)) (slot.data as TypedArray)[row] = days;
            else this.markBad(row, c, buffer, start, fieldEnd);
            break;
          }
          case Kind.Timestamp: {
            const ms = parsePgTimestampBytes(buffer, start, fieldEnd);
            if (ms === ms) (slot.data as TypedArray)[row] = ms;
            else this.markBad(row, c, buffer, start, fieldEnd);
            break;
          }
        }
      }
      row++;
    }
    this.length = row;
    return position;
  }

  /**
   * A value new to its column's dictionary: its code, or -1 when the dictionary is full, and then the
   * column turns into plain strings (this one stored) from this row on, for the rest of the run.
   */
  private addText(column: number, row: number, bytes: Uint8Array, start: number, end: number): number {
    const dictionary = this.texts.dictionaries[column]!;
    const code = this.texts.add(column, bytes, start, end);
    if (code >= 0) return code;
    const slot = this.slots[column];
    const codes = slot.data as TypedArray;
    const strings = new Array<string>(this.capacity);
    const values = dictionary.values;
    for (let i = 0; i < row; i++) strings[i] = values[codes[i]];
    strings[row] = decodeUtf8(bytes, start, end);
    slot.data = strings;
    slot.dtype = 'string';
    slot.dictionary = undefined;
    this.kinds[column] = Kind.Text;
    return -1;
  }

  private markBad(row: number, column: number, buffer: Buffer, start: number, end: number): void {
    this.bad ??= new Uint8Array(this.capacity);
    this.badValues ??= new Map();
    if (this.bad[row] === 0) {
      this.bad[row] = column + 1;
      this.badValues.set(row, decodeUtf8(buffer, start, end));
    }
  }

  async flush(origin: BatchOrigin, firstRow: number, sql: string, context: SourceContext): Promise<Batch> {
    const columns: Record<string, Column> = {};
    this.fields.forEach((field, c) => {
      columns[field.name] = finishColumn(this.slots[c].dtype, this.slots[c], this.length, this.capacity);
    });
    const batch = new Batch(columns, this.length, { ...origin, row: firstRow });
    if (this.bad === null) return batch;
    const keep = new Uint32Array(this.length);
    let kept = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.bad[i] === 0) {
        keep[kept++] = i;
        continue;
      }
      const field = this.fields[this.bad[i] - 1];
      const value = this.badValues!.get(i) ?? '';
      await context.reject(
        {
          column: field.name,
          position: this.bad[i] - 1,
          value,
          rule: field.dtype,
          message: `column ${JSON.stringify(field.name)}: ${JSON.stringify(value)} does not fit a ${field.dtype} column`,
        },
        { query: sql, row: firstRow + i, column: field.name },
      );
    }
    return batch.take(keep, kept);
  }
}

/** COPY rows → text values → the schema's RowDecoder (the checked path). */
class CopySchemaDecoder {
  private readonly decoder: RowDecoder;
  private readonly values: unknown[];
  private readonly texts: (string | null)[];
  private readonly pending: { row: number; violation: NonNullable<ReturnType<RowDecoder['append']>> }[] = [];
  private taken = 0;

  constructor(
    private readonly fields: Field[],
    plans: ColumnPlan[],
    private readonly positions: number[],
    private readonly capacity: number,
    widen: (column: string, from: string, to: string, value: string) => void,
  ) {
    this.decoder = new RowDecoder(plans, capacity, widen);
    this.values = new Array(plans.length);
    this.texts = new Array(fields.length);
  }

  get length(): number {
    return this.taken;
  }

  get full(): boolean {
    return this.taken >= this.capacity;
  }

  get rowsTaken(): number {
    return this.taken;
  }

  fill(buffer: Buffer, position: number, end: number): number {
    const columns = this.fields.length;
    while (position < end && this.taken < this.capacity) {
      for (let c = 0; c < columns; c++) {
        const start = position;
        let escaped = false;
        let byte = buffer[position];
        while (byte !== TAB && byte !== NEWLINE) {
          if (byte === BACKSLASH) escaped = true;
          byte = buffer[++position];
        }
        const fieldEnd = position;
        position++;
        if (escaped && fieldEnd - start === 2 && buffer[start + 1] === 0x4e) this.texts[c] = null;
        else this.texts[c] = escaped ? unescapeCopyText(buffer, start, fieldEnd).toString('utf8') : decodeUtf8(buffer, start, fieldEnd);
      }
      for (let c = 0; c < this.positions.length; c++) this.values[c] = this.texts[this.positions[c]];
      const violation = this.decoder.append(this.values, this.taken);
      if (violation !== null) this.pending.push({ row: this.taken, violation });
      this.taken++;
    }
    return position;
  }

  async flush(origin: BatchOrigin, firstRow: number, sql: string, context: SourceContext): Promise<Batch> {
    for (const { row, violation } of this.pending) {
      await context.reject(violation, { query: sql, row: firstRow + row, column: violation.column });
    }
    const batch = this.decoder.flush(origin);
    return new Batch(batch.columns, batch.length, { ...origin, row: firstRow });
  }
}
