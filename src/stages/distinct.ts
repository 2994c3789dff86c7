import { z } from 'zod';
import type { Batch } from '../batch/batch.ts';
import { columnRecord } from '../batch/batch.ts';
import type { Column } from '../batch/column.ts';
import { SluiceError } from '../core/errors.ts';
import { checkOptions, option, optionsObject } from '../core/options.ts';
import { passesOn, replacesRows } from '../contracts/columns.ts';
import type { Stage, StageContext } from '../contracts/contracts.ts';
import { first, last, type Aggregation } from './aggregate/aggregations.ts';
import { groupBy, type GroupByFigures } from './aggregate/group-by.ts';

function keyList(keys: unknown, where: string, required: boolean): string[] | undefined {
  if (keys === undefined && !required) return undefined;
  const list = typeof keys === 'string' ? [keys] : keys;
  if (!Array.isArray(list) || list.some((key) => typeof key !== 'string' || key === '') || (required && list.length === 0)) {
    throw new SluiceError('INVALID_OPTION', `${where}: expected \`keys\` to be a column name or a non-empty array of column names; got ${JSON.stringify(keys) ?? String(keys)}.`, { option: 'keys' });
  }
  return [...list] as string[];
}

function checkKeys(batch: Batch<any>, keys: readonly string[], what: string, context: StageContext): void {
  for (const key of keys) {
    if (batch.columns[key] === undefined) {
      throw new SluiceError('STAGE_FAILED', `${what}: no column ${JSON.stringify(key)} to ${what} by; the input has ${batch.names.join(', ')}`, { stage: context.stage, column: key });
    }
  }
}

/**
 * A stage made once the first batch shows the columns (which of them are not keys), fed that batch and
 * the rest; its outputs get the input's column order back.
 */
function onFirstBatch<R, Out>(what: string, keys: readonly string[] | undefined, make: (first: Batch<any>) => Stage<any, any>, order: (first: Batch<any>) => readonly string[]): Stage<R, Out> {
  return async function* madeOnFirstBatch(input: AsyncIterable<Batch<R>>, context: StageContext) {
    const iterator = input[Symbol.asyncIterator]();
    // However the stage ends (its own error included, before the inner stage reads anything), the input is closed.
    try {
      const head = await iterator.next();
      if (head.done === true) return;
      if (keys !== undefined) checkKeys(head.value, keys, what, context);
      const names = order(head.value);
      async function* replay(): AsyncGenerator<Batch<R>> {
        yield head.value;
        for (;;) {
          const next = await iterator.next();
          if (next.done === true) return;
          yield next.value;
        }
      }
      for await (const output of make(head.value)(replay(), context)) {
        const columns: Record<string, Column> = columnRecord();
        for (const name of names) columns[name] = output.column(name);
        yield output.withColumns<Out>(columns);
      }
    } finally {
      await iterator.return?.();
    }
  };
}

/**
 * One row per distinct combination of `keys` (only those columns), or per distinct row (every column)
 * when no keys are given: SQL's `SELECT DISTINCT`. On the group-by's hash table and budget, spilling
 * when it is spent. Nulls are equal to each other, so are -0 and 0, and NaNs. Output order: first
 * seen, unless it spilled (then by partition).
 *
 * @example
 * .distinct(['country', 'status'])
 */
export function distinct<R>(): Stage<R, R>;
export function distinct<R, const K extends keyof R & string>(keys: readonly K[] | K, options?: { figures?: GroupByFigures }): Stage<R, Pick<R, K>>;
export function distinct(keys?: unknown, options: { figures?: GroupByFigures } = {}): Stage<any, any> {
  const list = keyList(keys, 'distinct()', false);
  const stage =
    list === undefined
      ? onFirstBatch('distinct', undefined, (head) => groupBy(head.names as string[], {}, options), (head) => head.names)
      : onFirstBatch('distinct', list, () => groupBy(list, {}, options), () => list);
  stage.stageName = 'distinct';
  stage.stageDetail = list === undefined ? 'of whole rows' : `by ${list.join(', ')}`;
  // distinct(keys) outputs the keys alone; distinct() compares whole rows, so it reads them all.
  if (list !== undefined) stage.columns = replacesRows(list);
  return stage;
}

/** Options of `dedupe`. */
export interface DedupeOptions {
  /** Which row of each key stays: the first in input order or the last. @default 'first' */
  keep?: 'first' | 'last';
  /** The figures object the stage fills in (the summary reads it). */
  figures?: GroupByFigures;
}

const DEDUPE_OPTIONS = optionsObject({
  keep: option(z.enum(['first', 'last']), "'first' or 'last'"),
  figures: option(z.object({}).loose(), 'a figures object'),
});

/**
 * One whole row per distinct `keys`: the first or the last of them in input order (`keep`). Every
 * other column comes from that same row. On the group-by's machinery (a first()/last() per column), so
 * it holds one row per key within the budget and spills when it is spent. Output order: the order in
 * which keys were first seen, unless it spilled (then by partition).
 *
 * @example
 * .dedupe('order_id', { keep: 'last' })
 */
export function dedupe<R, const K extends keyof R & string>(keys: readonly K[] | K, options: DedupeOptions = {}): Stage<R, R> {
  const list = keyList(keys, 'dedupe()', true)!;
  const checked = checkOptions('dedupe()', DEDUPE_OPTIONS, options) as DedupeOptions;
  const keep = checked.keep ?? 'first';
  const stage = onFirstBatch<R, R>(
    'dedupe',
    list,
    (head) => {
      const aggregations: Record<string, Aggregation<any, string>> = {};
      for (const name of head.names) if (!list.includes(name)) aggregations[name] = keep === 'first' ? first(name) : last(name);
      return groupBy(list, aggregations, { figures: options.figures });
    },
    (head) => head.names,
  );
  stage.stageName = 'dedupe';
  stage.stageDetail = `by ${list.join(', ')}, keep ${keep}`;
  // Reads its keys; every other column comes out of the kept row as it went in.
  stage.columns = passesOn(list);
  return stage;
}
