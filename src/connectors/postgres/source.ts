/**
 * PostgreSQL source: a query's result as typed columnar batches, read through a server-side cursor
 * (pg-cursor, cursor-reader.ts) or, with `mode: 'copy'`, through `COPY (query) TO STDOUT`
 * (copy-reader.ts).
 *
 * pg's type parsers are replaced by identity parsers and rows come as arrays of text: Sluice parses the
 * text itself straight into typed arrays (pg's defaults make local-time Date objects of dates and strings
 * of int8, and cost a JS object per row). The session is set up for that text once (session.ts).
 *
 * This file wires the parts: options (options.ts), SQL (query.ts), columns and plans (fields.ts), the
 * two readers and their decoders; a connection of its own per read, released in `finally`.
 */
import type pg from 'pg';
import type { z } from 'zod';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { SluiceError } from '../../core/errors.ts';
import type { DescribeContext, Source, SourceContext, SourceDescription, SourcePartition } from '../../contracts/contracts.ts';
import { compileSchema } from '../../schema/compile.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { RowOf } from '../../schema/row-type.ts';
import { type PgConnectionOptions, type ResolvedConnection, resolveConnection, withStatementTimeout } from './connection.ts';
import { readCopy } from './copy-reader.ts';
import { readCursor } from './cursor-reader.ts';
import { wrapPgError } from './errors.ts';
import { columnPlans, describeFields, type Field } from './fields.ts';
import { quoteIdent, quoteQualified } from './identifiers.ts';
import { keyRangeOf, planKeyRanges, rangeSql } from './key-ranges.ts';
import { checkSourceOptions, type PostgresInput, type PostgresSourceOptions, type SourceSettings } from './options.ts';
import { createPoolRegistry } from './pools.ts';
import { runQuery, sourceSql } from './query.ts';

export type { PostgresInput, PostgresQueryInput, PostgresSourceOptions, PostgresTableInput } from './options.ts';
export { WATERMARK_STATE_KEY } from './query.ts';

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
  return new PostgresSource(checkSourceOptions(input, options)) as unknown as Source<RowOf<S, K>>;
}

class PostgresSource implements Source<AnyRow> {
  readonly kind = 'postgres';
  private readonly sql: string;
  private readonly params: unknown[] | undefined;
  private readonly connectionOptions: PgConnectionOptions | undefined;

  private readonly settings: SourceSettings;
  constructor(settings: SourceSettings) {
    this.settings = settings;
    const { input, options, table } = settings;
    const schemaColumns = 'table' in input && input.columns === undefined && options.schema !== undefined ? compileSchema(options.schema).columns.map((plan) => plan.name) : undefined;
    const sql = sourceSql(input, table, schemaColumns);
    const narrowed = settings.range === undefined || options.partitionBy === undefined ? { sql, params: settings.params } : rangeSql(sql, settings.params, options.partitionBy.column, settings.range);
    this.sql = narrowed.sql;
    this.params = narrowed.params;
    this.connectionOptions = withStatementTimeout(options.connection, options.statementTimeout);
  }

  async partitions(): Promise<SourcePartition[]> {
    const { partitionBy } = this.settings.options;
    if (partitionBy === undefined) {
      throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `postgres() is split into partitions by \`partitionBy: { column, partitions }\` (ranges of an integer key); ${this.location} has none.`);
    }
    if (this.settings.options.incremental !== undefined) throw new SluiceError('DISTRIBUTED_UNSUPPORTED', 'postgres() with `incremental` cannot be split across workers yet.');
    const pools = createPoolRegistry();
    const connection = resolveConnection(this.connectionOptions);
    try {
      const client = await connect(pools.pool(this.connectionOptions), connection);
      try {
        const planned = await planKeyRanges(client, this.sql, this.params, partitionBy.column, partitionBy.partitions);
        client.release();
        return planned;
      } catch (error) {
        client.release(true);
        throw error instanceof SluiceError ? error : wrapPgError(error, { operation: 'query', query: this.sql, connection });
      }
    } finally {
      await pools.closeAll();
    }
  }

  partition(spec: unknown): Source<AnyRow> {
    return new PostgresSource({ ...this.settings, range: keyRangeOf(spec) });
  }

  /** Where it reads from, without the password. */
  get location(): string {
    let where: string;
    try {
      where = resolveConnection(this.connectionOptions).description;
    } catch {
      where = '(no connection: set DATABASE_URL)';
    }
    return `${where} ${this.settings.table === undefined ? 'query' : `table ${quoteQualified(this.settings.table)}`}`;
  }

  async describe(context?: DescribeContext): Promise<SourceDescription> {
    const pools = createPoolRegistry();
    const connection = resolveConnection(this.connectionOptions);
    try {
      const client = await connect(pools.pool(this.connectionOptions), connection);
      let projected: Projected;
      try {
        projected = await this.project(client, connection, context?.columns);
        client.release();
      } catch (error) {
        client.release(true);
        throw error;
      }
      const fields = projected.fields ?? [];
      const columns = columnPlans(fields, this.planSource(projected));
      return {
        kind: 'postgres',
        location: this.location,
        engine: this.settings.mode,
        columns,
        ...(projected.of > fields.length ? { columnsOf: projected.of } : {}),
        notes: [`SQL: ${projected.sql}`],
      };
    } finally {
      await pools.closeAll();
    }
  }

  private planSource(projected: Projected) {
    const { input, options } = this.settings;
    const wanted = projected.fields !== undefined && projected.of > projected.fields.length ? projected.fields.map((field) => field.name) : 'table' in input ? input.columns : undefined;
    return { schema: options.schema, compile: options, wanted, sql: projected.sql };
  }

  /** The schema's plans for these fields, or undefined without a schema (the decoders then go by the fields' types). */
  private plans(fields: Field[], projected: Projected): ColumnPlan[] | undefined {
    return this.settings.options.schema === undefined ? undefined : columnPlans(fields, this.planSource(projected));
  }

  /**
   * The SQL that selects only the columns the pipeline uses (projection push-down): a table's SELECT
   * names them, a query is wrapped in `SELECT … FROM (query)`. The incremental column and key stay in
   * (the watermark is read from them). Unchanged, without a round trip, when every column is used.
   */
  private async project(client: pg.PoolClient, connection: ResolvedConnection, columns: readonly string[] | undefined): Promise<Projected> {
    const { input, table, options } = this.settings;
    const all = await describeFields(client, this.sql, this.params, connection);
    if (columns === undefined) return { sql: this.sql, fields: all, of: all.length, all };
    const wanted = new Set([...columns, ...(options.incremental === undefined ? [] : [options.incremental.column, options.incremental.key])]);
    let fields = all.filter((field) => wanted.has(field.name));
    if (fields.length === 0) fields = all.slice(0, 1);
    if (fields.length === all.length) return { sql: this.sql, fields: all, of: all.length, all };
    const names = fields.map((field) => field.name);
    // A table's SELECT is rebuilt with fewer columns, unless narrowed to a key range (a partition): then wrapped, as a query is.
    const sql = 'table' in input && this.settings.range === undefined ? sourceSql({ ...input, columns: names }, table, undefined) : `SELECT ${names.map(quoteIdent).join(', ')} FROM (${this.sql}) AS sluice_projected`;
    return { sql, fields, of: all.length, all };
  }

  async *read(context: SourceContext): AsyncGenerator<Batch> {
    const { mode, options } = this.settings;
    context.engine(mode === 'copy' ? 'postgres copy' : 'postgres cursor');
    const pools = createPoolRegistry();
    const connection = resolveConnection(this.connectionOptions);
    const batchRows = () => Math.max(1, options.batchRows === undefined ? context.batchRows() : Math.min(options.batchRows, context.batchRows()));
    try {
      const client = await connect(pools.pool(this.connectionOptions), connection);
      let failed: unknown = true;
      try {
        // Every column used: no describe round trip, the SQL as it is.
        const projected: Projected = context.columns === undefined ? { sql: this.sql, of: 0 } : await this.project(client, connection, context.columns);
        if (projected.fields !== undefined) context.columnsRead(projected.fields.map((field) => field.name), projected.all!.map((field) => field.name));
        const plans = (fields: Field[]) => this.plans(fields, projected);
        const sql = projected.sql;
        if (mode === 'copy') {
          yield* readCopy(client, connection, { source: sql, batchRows, plans, dictionaryCap: options.dictionaryCap, format: options.copyFormat ?? 'auto' }, context);
        } else {
          const query = runQuery(sql, this.params, options.incremental, context);
          const format = options.cursorFormat ?? 'auto';
          yield* readCursor(client, connection, { ...query, source: sql, incremental: options.incremental, batchRows, plans, format, dictionaryCap: options.dictionaryCap }, context);
        }
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
}

/** The SQL of one read, and its columns when they were asked for (of the `of` the source's SQL has). */
interface Projected {
  sql: string;
  fields?: Field[];
  of: number;
  all?: Field[];
}

/** A connection of the source's own, its session set up by the pool (session.ts). */
async function connect(pool: pg.Pool, connection: ResolvedConnection): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (error) {
    throw wrapPgError(error, { operation: 'connect', connection });
  }
}
