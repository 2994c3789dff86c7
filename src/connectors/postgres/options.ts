/**
 * The options of `postgres(input, options)` and `toPostgres(options)`, and their check: every key
 * declared once as a zod field (core/options.ts), so an unknown key is refused with the nearest known
 * name and a wrong value with what it must be; then the rules between keys (COPY takes no `params`,
 * `upsert` needs `key`, …). Nothing else in the connector validates options.
 */
import { z } from 'zod';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions, integerFrom, option, optionsObject, requiredOption } from '../../core/options.ts';
import type { CompileOptions } from '../../schema/compile.ts';
import type { PgConnectionOptions } from './connection.ts';
import { parseQualifiedName, type QualifiedName, quoteIdent } from './identifiers.ts';

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
   * - `copy`: `COPY (query) TO STDOUT`, in the binary format where it can (see `copyFormat`), decoded
   *   straight into typed columns; much less CPU per row than `cursor` (text columns come
   *   dictionary-encoded until they pass `dictionaryCap` distinct values), but takes no `params` (COPY
   *   has no parameters), and stopping early (`take`) closes the connection instead of the cursor.
   * @default 'cursor'
   */
  mode?: 'cursor' | 'copy';
  /**
   * The COPY format of `mode: 'copy'`. `auto`: binary when there is no `schema` and every column is
   * bool, int2/4/8, float4/8, numeric, date, timestamp(tz), text, varchar, char, name, json, jsonb or
   * uuid; else text. Both give the same batches. `binary` refuses a read that cannot be binary.
   * @default 'auto'
   */
  copyFormat?: 'auto' | 'binary' | 'text';
  /**
   * The result format of `mode: 'cursor'`. `auto`: binary rows, read from the socket straight into
   * typed columns (text columns dictionary-encoded, as in copy mode), when there is no `schema`, no
   * `incremental`, and every column is of a type `copyFormat` reads in binary; else text, through
   * pg's rows of strings. Both give the same values. `binary` refuses a read that cannot be binary.
   * @default 'auto'
   */
  cursorFormat?: 'auto' | 'binary' | 'text';
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
  /**
   * For a distributed run (`etl run --distributed`): split the rows into `partitions` ranges of an
   * integer column of the result (a key such as `id`), of equal width between its lowest and highest
   * value when the run is planned; rows with a NULL there go to the first range. Every row is in exactly
   * one range, also rows added after planning. A plain run reads every row as one. `mode: 'cursor'` only.
   * @example postgres({ table: 'orders' }, { partitionBy: { column: 'order_id', partitions: 16 } })
   */
  partitionBy?: { column: string; partitions: number };
}

export interface PostgresSinkOptions {
  /** `orders`, `sales.orders` or `{ schema, table }`; always quoted (names are case-sensitive). */
  table: string | QualifiedName;
  /** @default 'append' */
  mode?: 'append' | 'replace' | 'upsert';
  /** The conflict key of `upsert`: column(s) with a unique index or primary key on the table. */
  key?: string | readonly string[];
  /**
   * Create the table when it does not exist, with column types from the first batch's dtypes (see the
   * README's mapping) and, for `upsert`, a primary key on `key`. @default false
   */
  createTable?: boolean;
  /** A URL or a pg PoolConfig. @default process.env.DATABASE_URL */
  connection?: PgConnectionOptions;
  /** Server-side `statement_timeout` in ms for each statement, the COPY included (0: none). */
  statementTimeout?: number;
  /**
   * `replace` only: whether an input of no rows may empty the table. By default a replace with no rows
   * fails with PG_EMPTY_REPLACE and changes nothing, since an empty input (a 0-byte file, a cut export)
   * is more often a mistake than a wish to empty the table. @default false
   */
  allowEmpty?: boolean;
  /**
   * The COPY format. `auto`: binary when every column of the first batch can be written to its table
   * column's type in binary (numbers to smallint, integer, bigint, real, double precision; bool; date;
   * timestamp to timestamp(tz); strings to text, varchar, char), which saves the server parsing text;
   * else text. `binary` refuses a load that cannot be binary; `text` is the server-converted path.
   * @default 'auto'
   */
  copyFormat?: 'auto' | 'binary' | 'text';
}

const connection = option(
  z.union([z.string(), z.custom<object>((value) => typeof value === 'object' && value !== null && !Array.isArray(value))]),
  'a postgres:// URL or a pg PoolConfig object',
);
const statementTimeout = option(integerFrom(0), 'a whole number of milliseconds from 0 (no limit) and up');
const params = option(z.array(z.unknown()), 'an array of the values of $1, $2, …');
const columnName = z.string().min(1);
const tableName = requiredOption(
  z.union([z.string().min(1), optionsObject({ schema: option(columnName, 'a schema name'), table: requiredOption(columnName, 'a table name') })]),
  "a table name such as 'orders' or 'sales.orders', or { schema, table }",
);

const QueryInput = optionsObject({ query: requiredOption(z.string().regex(/\S/), 'a non-empty SQL string'), params });
const TableInput = optionsObject({
  table: tableName,
  columns: option(z.array(columnName).min(1), 'a non-empty array of column names'),
  where: option(z.string(), 'a SQL condition, its values as $1, $2, … in `params`'),
  params,
});

const SourceOptions = optionsObject({
  connection,
  schema: option(z.custom<object>((value) => typeof value === 'object' && value !== null && '_zod' in value), 'a zod object, e.g. z.object({ … })'),
  batchRows: option(integerFrom(1), 'an integer from 1 and up'),
  mode: option(z.enum(['cursor', 'copy']), "'cursor' or 'copy'"),
  copyFormat: option(z.enum(['auto', 'binary', 'text']), "'auto', 'binary' or 'text'"),
  cursorFormat: option(z.enum(['auto', 'binary', 'text']), "'auto', 'binary' or 'text'"),
  statementTimeout,
  incremental: option(
    optionsObject({ column: requiredOption(columnName, 'a column name'), key: requiredOption(columnName, 'a column name') }),
    "{ column, key }, e.g. { column: 'updated_at', key: 'id' }",
  ),
  float32: option(z.boolean(), 'true or false'),
  dictionaryCap: option(integerFrom(1), 'an integer from 1 and up'),
  dictionaryStrings: option(z.union([z.boolean(), z.array(z.string())]), 'true, false or an array of column names'),
  partitionBy: option(
    optionsObject({ column: requiredOption(columnName, 'a column name'), partitions: requiredOption(integerFrom(1), 'a whole number from 1 and up') }),
    "{ column, partitions }, e.g. { column: 'id', partitions: 8 }",
  ),
});

const SinkOptions = optionsObject({
  table: tableName,
  mode: option(z.enum(['append', 'replace', 'upsert']), "'append', 'replace' or 'upsert'"),
  key: option(z.union([columnName, z.array(columnName).min(1)]), 'a column name or an array of them'),
  createTable: option(z.boolean(), 'true or false'),
  connection,
  statementTimeout,
  allowEmpty: option(z.boolean(), 'true or false'),
  copyFormat: option(z.enum(['auto', 'binary', 'text']), "'auto', 'binary' or 'text'"),
});

/** Fails the typecheck when an option is added to an interface and not to its schema, or the other way round. */
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
const sourceKeysMatch: SameKeys<z.output<typeof SourceOptions>, PostgresSourceOptions> = true;
const sinkKeysMatch: SameKeys<z.output<typeof SinkOptions>, PostgresSinkOptions> = true;
const queryKeysMatch: SameKeys<z.output<typeof QueryInput>, PostgresQueryInput> = true;
const tableKeysMatch: SameKeys<z.output<typeof TableInput>, PostgresTableInput> = true;
void [sourceKeysMatch, sinkKeysMatch, queryKeysMatch, tableKeysMatch];

function refuse(where: string, name: string, message: string): SluiceError {
  return new SluiceError('INVALID_OPTION', `${where}: ${message}`, { option: name });
}

/** What the source reads, checked. */
export interface SourceSettings {
  input: PostgresQueryInput | PostgresTableInput;
  options: PostgresSourceOptions;
  mode: 'cursor' | 'copy';
  /** The table, parsed (table inputs only). */
  table: QualifiedName | undefined;
  params: unknown[] | undefined;
  /** The one range of `partitionBy` this source reads (a partition of a distributed run). */
  range?: KeyRange;
}

/** A range of `partitionBy`'s column: `[from, to)`, open below for the first (with the NULLs), open above for the last. */
export interface KeyRange {
  /** Decimal text of the lowest value, absent for the first range. */
  from?: string;
  /** Decimal text of the value past the highest, absent for the last range. */
  to?: string;
}

/** Checks both arguments of `postgres()`. @throws SluiceError INVALID_OPTION with `details.option` */
export function checkSourceOptions(input: unknown, options: unknown): SourceSettings {
  const isObject = typeof input === 'object' && input !== null && !Array.isArray(input);
  if (!isObject || (!('query' in input) && !('table' in input))) {
    throw new SluiceError('INVALID_OPTION', 'postgres() expects `{ query, params? }` or `{ table, columns?, where?, params? }` as its first argument.', { option: '' });
  }
  const checkedInput: PostgresQueryInput | PostgresTableInput =
    'query' in input ? checkOptions('postgres() input', QueryInput, input) : checkOptions('postgres() input', TableInput, input);
  const checked = checkOptions('postgres()', SourceOptions, options) as PostgresSourceOptions;
  const mode = checked.mode ?? 'cursor';
  const params = checkedInput.params === undefined ? undefined : [...checkedInput.params];
  if (mode === 'copy' && params !== undefined && params.length > 0) {
    throw refuse('postgres()', 'mode', "mode: 'copy' cannot take `params` (COPY has no parameters, and Sluice never splices values into SQL): use mode: 'cursor'.");
  }
  if (checked.copyFormat !== undefined && mode !== 'copy') throw refuse('postgres()', 'copyFormat', "`copyFormat` is only used by mode: 'copy'.");
  if (checked.cursorFormat !== undefined && mode !== 'cursor') throw refuse('postgres()', 'cursorFormat', "`cursorFormat` is only used by mode: 'cursor'.");
  if (checked.cursorFormat === 'binary' && checked.incremental !== undefined) {
    throw refuse('postgres()', 'cursorFormat', "cursorFormat: 'binary' cannot keep a watermark (its value is the server's text): remove `incremental` or use cursorFormat: 'auto'.");
  }
  if (checked.incremental !== undefined && mode === 'copy') throw refuse('postgres()', 'incremental', "`incremental` reads with a cursor: remove mode: 'copy'.");
  if (checked.partitionBy !== undefined && mode === 'copy') throw refuse('postgres()', 'partitionBy', "`partitionBy` bounds each range with parameters, which COPY cannot take: remove mode: 'copy'.");
  if (checked.partitionBy !== undefined && checked.incremental !== undefined) throw refuse('postgres()', 'partitionBy', '`partitionBy` and `incremental` do not go together yet: a distributed run cannot advance a watermark.');
  let table: QualifiedName | undefined;
  if ('table' in checkedInput) {
    table = typeof checkedInput.table === 'string' ? parseQualifiedName(checkedInput.table) : checkedInput.table;
    checkedInput.columns?.forEach(quoteIdent); // refuses names PostgreSQL cannot hold, now
  }
  return { input: checkedInput, options: checked, mode, table, params };
}

/** What the sink writes, checked. */
export interface SinkSettings {
  options: PostgresSinkOptions;
  table: QualifiedName;
  mode: 'append' | 'replace' | 'upsert';
  keys: readonly string[];
  createTable: boolean;
  allowEmpty: boolean;
  copyFormat: 'auto' | 'binary' | 'text';
}

/** Checks the options of `toPostgres()`. @throws SluiceError INVALID_OPTION with `details.option` */
export function checkSinkOptions(options: unknown): SinkSettings {
  const checked = checkOptions('toPostgres()', SinkOptions, options) as PostgresSinkOptions;
  const table = typeof checked.table === 'string' ? parseQualifiedName(checked.table) : checked.table;
  const mode = checked.mode ?? 'append';
  const keys = checked.key === undefined ? [] : typeof checked.key === 'string' ? [checked.key] : [...checked.key];
  if (mode === 'upsert' && keys.length === 0) {
    throw refuse('toPostgres()', 'key', "mode: 'upsert' needs `key`: the column(s) of a unique index, e.g. { mode: 'upsert', key: 'order_id' }.");
  }
  if (mode !== 'upsert' && keys.length > 0) throw refuse('toPostgres()', 'key', "`key` is only used by mode: 'upsert'.");
  if (checked.allowEmpty !== undefined && mode !== 'replace') throw refuse('toPostgres()', 'allowEmpty', "`allowEmpty` is only used by mode: 'replace'.");
  keys.forEach(quoteIdent); // refuses names PostgreSQL cannot hold, now
  return { options: checked, table, mode, keys, createTable: checked.createTable === true, allowEmpty: checked.allowEmpty === true, copyFormat: checked.copyFormat ?? 'auto' };
}
