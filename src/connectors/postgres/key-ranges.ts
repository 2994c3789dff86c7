/**
 * `partitionBy`: the rows of a source split into ranges of an integer column, for the partitions of a
 * distributed run. Planned from the column's lowest and highest values (one query), as ranges of equal
 * width, the first open below (and holding the NULLs), the last open above: every row, even one added
 * after planning, falls in exactly one. Bounds travel as parameters, as decimal text (exact past 2^53).
 */
import type pg from 'pg';
import { SluiceError } from '../../core/errors.ts';
import type { SourcePartition } from '../../contracts/contracts.ts';
import { quoteIdent } from './identifiers.ts';
import type { KeyRange } from './options.ts';

export async function planKeyRanges(client: pg.ClientBase, sql: string, params: readonly unknown[] | undefined, column: string, partitions: number): Promise<SourcePartition[]> {
  const name = quoteIdent(column);
  const { rows } = await client.query(
    `SELECT min(${name})::text AS low, max(${name})::text AS high, pg_typeof(min(${name}))::text AS type FROM (${sql}) AS sluice_bounds`,
    params === undefined ? [] : [...params],
  );
  const { low, high, type } = rows[0] as { low: string | null; high: string | null; type: string };
  if (!['smallint', 'integer', 'bigint'].includes(type) && low !== null) {
    throw new SluiceError('INVALID_OPTION', `postgres(): \`partitionBy\` needs an integer column (smallint, integer or bigint); ${JSON.stringify(column)} is ${type}.`, { option: 'partitionBy' });
  }
  if (low === null || high === null) return [rangePartition(column, {})];
  const lowest = BigInt(low);
  const span = BigInt(high) - lowest + 1n;
  const count = span < BigInt(partitions) ? Number(span) : partitions;
  const width = (span + BigInt(count) - 1n) / BigInt(count);
  const bounds = Array.from({ length: count - 1 }, (_, k) => (lowest + width * BigInt(k + 1)).toString());
  return Array.from({ length: count }, (_, k) => rangePartition(column, { ...(k === 0 ? {} : { from: bounds[k - 1] }), ...(k === count - 1 ? {} : { to: bounds[k] }) }));
}

function rangePartition(column: string, range: KeyRange): SourcePartition {
  const label =
    range.from === undefined && range.to === undefined
      ? `every ${column}`
      : range.from === undefined
        ? `${column} < ${range.to} or null`
        : range.to === undefined
          ? `${column} >= ${range.from}`
          : `${column} in [${range.from}, ${range.to})`;
  return { label, spec: range };
}

/** A range from a partition's spec, checked: it came through a queue. */
export function keyRangeOf(spec: unknown): KeyRange {
  const range = spec as KeyRange;
  const bound = (value: unknown) => value === undefined || (typeof value === 'string' && /^-?\d+$/.test(value));
  if (typeof spec !== 'object' || spec === null || !bound(range.from) || !bound(range.to)) {
    throw new SluiceError('DISTRIBUTED_PARTITION', `A partition of a postgres() source must be { from?, to? } of decimal text; got ${JSON.stringify(spec)}.`);
  }
  return { from: range.from, to: range.to };
}

/** `sql` narrowed to a range, its bounds as the next parameters after `params`. */
export function rangeSql(sql: string, params: unknown[] | undefined, column: string, range: KeyRange): { sql: string; params: unknown[] | undefined } {
  const values = [...(params ?? [])];
  const name = quoteIdent(column);
  const conditions: string[] = [];
  if (range.from !== undefined) {
    values.push(range.from);
    conditions.push(`${name} >= $${values.length}`);
  }
  if (range.to !== undefined) {
    values.push(range.to);
    conditions.push(range.from === undefined ? `(${name} < $${values.length} OR ${name} IS NULL)` : `${name} < $${values.length}`);
  }
  if (conditions.length === 0) return { sql, params };
  return { sql: `SELECT * FROM (${sql}) AS sluice_partition WHERE ${conditions.join(' AND ')}`, params: values };
}
