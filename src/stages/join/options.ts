import { z } from 'zod';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions, option, optionsObject, requiredOption } from '../../core/options.ts';

/** Which rows a join keeps: pairs that match, every left row, left rows with a match, left rows without. */
export type JoinType = 'inner' | 'left' | 'semi' | 'anti';

type Name<T> = keyof T & string;
/** One key: a column of that name on both sides, or a `[left, right]` pair of names. */
export type JoinKey<L, R> = (Name<L> & Name<R>) | readonly [Name<L>, Name<R>];
/** `on`: one column of that name on both sides, or an array of keys (names and `[left, right]` pairs). */
export type JoinOn<L, R> = (Name<L> & Name<R>) | readonly JoinKey<L, R>[];
/** `select`: the other side's columns to add, by name, or as `{ outputName: column }` to rename them. */
export type JoinSelect<R> = readonly Name<R>[] | Readonly<Record<string, Name<R>>>;

export interface JoinOptions<On = string | readonly (string | readonly [string, string])[], T extends JoinType = JoinType, S = readonly string[] | Readonly<Record<string, string>>> {
  /**
   * The keys. A name is a column of both sides; a `[left, right]` pair names each side's column.
   * @example on: 'customer'
   * @example on: [['customer_id', 'id'], 'country']
   */
  on: On;
  /** @default 'inner' */
  type?: T;
  /**
   * The other side's columns the output gets (not for semi and anti joins, which add none).
   * @default every column of the other side except its keys
   * @example select: ['name', 'segment']
   * @example select: { customer_country: 'country' } // a name both sides have, renamed
   */
  select?: S;
}

type RightKeyOf<K> = K extends readonly [unknown, infer B] ? B : K;
type RightKeys<On> = On extends readonly (infer K)[] ? RightKeyOf<K> : On;
type Flat<X> = { [P in keyof X]: X[P] };
type OrNull<X> = { [P in keyof X]: X[P] | null };
type Selected<R, On, S> = S extends readonly (infer K extends keyof R)[]
  ? { [P in K]: R[P] }
  : S extends Readonly<Record<string, keyof R>>
    ? { -readonly [P in keyof S]: R[S[P]] }
    : { [P in Exclude<keyof R, RightKeys<On>>]: R[P] };

/** The row type after a join: the left row, and for inner and left joins the selected right columns (nullable after a left join). */
export type Joined<L, R, On, T extends JoinType, S> = T extends 'semi' | 'anti' ? L : Flat<L & (T extends 'left' ? OrNull<Selected<R, On, S>> : Selected<R, On, S>)>;

/** A join's options as the stage uses them: keys paired by position, the right columns to add and their output names. */
export interface JoinPlanOptions {
  type: JoinType;
  leftKeys: string[];
  rightKeys: string[];
  /** Right columns to add, with their output names; undefined: every non-key column of the right side. */
  select: { output: string; column: string }[] | undefined;
}

const name = z.string().min(1);
const JOIN_OPTIONS = optionsObject({
  on: requiredOption(z.union([name, z.array(z.union([name, z.tuple([name, name])])).min(1)]), 'a column name, or an array of column names and [left, right] pairs'),
  type: option(z.enum(['inner', 'left', 'semi', 'anti']), "'inner', 'left', 'semi' or 'anti'"),
  select: option(z.union([z.array(name), z.record(z.string(), name)]), "an array of the other side's column names, or { outputName: column }"),
});

/** Checks `join`'s options (once, when the pipeline is built) and pairs its keys. */
export function joinPlanOptions(options: unknown): JoinPlanOptions {
  const checked = checkOptions('join()', JOIN_OPTIONS, options);
  const type = checked.type ?? 'inner';
  const keys = typeof checked.on === 'string' ? [checked.on] : checked.on;
  const leftKeys = keys.map((key) => (typeof key === 'string' ? key : key[0]));
  const rightKeys = keys.map((key) => (typeof key === 'string' ? key : key[1]));
  let select: JoinPlanOptions['select'];
  if (checked.select !== undefined) {
    if (type === 'semi' || type === 'anti') {
      throw new SluiceError('INVALID_OPTION', `join(): a ${type} join adds no columns of the other side; leave out \`select\`.`, { option: 'select' });
    }
    select = Array.isArray(checked.select)
      ? checked.select.map((column) => ({ output: column, column }))
      : Object.entries(checked.select).map(([output, column]) => ({ output, column }));
    const seen = new Set<string>();
    for (const { output } of select) {
      if (seen.has(output)) throw new SluiceError('INVALID_OPTION', `join(): \`select\` names ${JSON.stringify(output)} twice.`, { option: 'select', value: output });
      seen.add(output);
    }
  }
  return { type, leftKeys, rightKeys, select };
}

/** `--dry-run`'s words for a join: its type, keys and what it adds, e.g. `inner on customer = id → name, segment`. */
export function describeJoin(options: JoinPlanOptions, location: string): string {
  const keys = options.leftKeys.map((left, k) => (left === options.rightKeys[k] ? left : `${left} = ${options.rightKeys[k]}`)).join(', ');
  const adds =
    options.type === 'semi' || options.type === 'anti'
      ? ''
      : ` → ${options.select === undefined ? 'every column but the keys' : options.select.map(({ output, column }) => (output === column ? column : `${output} = ${column}`)).join(', ')}`;
  return `${options.type} with ${location} on ${keys}${adds}`;
}
