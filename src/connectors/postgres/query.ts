/**
 * The SQL the source sends: the user's query or a table's SELECT (projection and filter pushed down),
 * wrapped for a run's needs: past the incremental watermark, limited for COPY, described without rows.
 * Names are always quoted; values always travel as parameters, never in the text.
 */
import type { SourceContext } from '../../contracts/contracts.ts';
import { type QualifiedName, quoteIdent, quoteQualified } from './identifiers.ts';
import type { PostgresQueryInput, PostgresTableInput } from './options.ts';

/** Where the source keeps its watermark in the run's incremental state. */
export const WATERMARK_STATE_KEY = 'postgres.watermark';

export interface Watermark {
  column: string;
  key: string;
  /** The server's text of the last row's column and key. */
  value: string;
  keyValue: string;
}

/** The statement of a source: its query (without a trailing semicolon, it gets wrapped) or its table's SELECT. */
export function sourceSql(input: PostgresQueryInput | PostgresTableInput, table: QualifiedName | undefined, schemaColumns: readonly string[] | undefined): string {
  if ('query' in input) return input.query.replace(/;\s*$/, '');
  const columns = input.columns ?? schemaColumns;
  const list = columns === undefined ? '*' : columns.map(quoteIdent).join(', ');
  let sql = `SELECT ${list} FROM ${quoteQualified(table ?? input.table)}`;
  if (input.where !== undefined && input.where.trim() !== '') sql += ` WHERE (${input.where})`;
  return sql;
}

/** The query of one run: with `incremental`, only rows past the committed watermark, in watermark order. */
export function runQuery(
  sql: string,
  params: unknown[] | undefined,
  incremental: { column: string; key: string } | undefined,
  context: SourceContext,
): { sql: string; params: unknown[] | undefined } {
  if (incremental === undefined) return { sql, params };
  if (context.state === undefined) {
    context.warn({ code: 'INCREMENTAL_WITHOUT_STATE', message: '`incremental` has no state store in this run (use etl run or etl schedule): every row is read.' });
  }
  const column = quoteIdent(incremental.column);
  const key = quoteIdent(incremental.key);
  const values = [...(params ?? [])];
  let where = `${column} IS NOT NULL`;
  const last = context.state?.get<Watermark>(WATERMARK_STATE_KEY);
  if (last !== undefined && last.column === incremental.column && last.key === incremental.key) {
    values.push(last.value, last.keyValue);
    where += ` AND (${column}, ${key}) > ($${values.length - 1}, $${values.length})`;
  }
  return { sql: `SELECT * FROM (${sql}) AS sluice_incremental WHERE ${where} ORDER BY ${column}, ${key}`, params: values };
}

/** At most `limit` rows (COPY has no portal to stop reading from, so the server is told). */
export function limitedSql(sql: string, limit: number | undefined): string {
  return limit === undefined ? sql : `SELECT * FROM (${sql}) AS sluice_limited LIMIT ${Math.max(0, Math.floor(limit))}`;
}

/** The result columns of `sql`, without running it to completion. */
export function describeSql(sql: string): string {
  return `${DESCRIBE_PREFIX}${sql}) AS sluice_described LIMIT 0`;
}

/** Characters {@link describeSql} puts before the user's SQL: the server's error positions are shifted back by it. */
export const DESCRIBE_PREFIX = 'SELECT * FROM (';
