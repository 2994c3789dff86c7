import { z } from 'zod';
import type { Batch } from '../../batch/batch.ts';
import { getBit } from '../../batch/bitmap.ts';
import type { Column } from '../../batch/column.ts';
import type { Dictionary } from '../../batch/dictionary.ts';
import type { TypedArray } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import { checkOptions, option, optionsObject, requiredOption } from '../../core/options.ts';
import { familyOf, type Family } from '../aggregate/values.ts';

/** One sort key: a column, its direction, and where its nulls go. */
export interface SortKey<C extends string = string> {
  column: C;
  /** Largest first. @default false */
  descending?: boolean;
  /** Nulls before or after every value, whatever the direction. @default 'last' */
  nulls?: 'first' | 'last';
}

/** What `.sort()` takes: a column name, a key, or a list of them (the first decides, the next break ties). */
export type SortSpec<C extends string = string> = C | SortKey<C> | readonly (C | SortKey<C>)[];

/** A key as the stage uses it, every field filled in. */
export interface ResolvedKey {
  column: string;
  descending: boolean;
  nullsFirst: boolean;
}

const KEY = optionsObject({
  column: requiredOption(z.string().min(1), 'a column name'),
  descending: option(z.boolean(), 'true or false'),
  nulls: option(z.enum(['first', 'last']), "'first' or 'last'"),
});

/** Checks a sort spec when `.sort()` is called; `where` names the call in the message. */
export function resolveKeys(spec: unknown, where: string): ResolvedKey[] {
  const list = Array.isArray(spec) ? spec : [spec];
  if (list.length === 0) throw new SluiceError('INVALID_OPTION', `${where}: expected at least one sort key; got none.`, { option: 'keys' });
  const keys = list.map((item: unknown, k): ResolvedKey => {
    if (typeof item === 'string' && item !== '') return { column: item, descending: false, nullsFirst: false };
    if (typeof item !== 'object' || item === null) {
      throw new SluiceError('INVALID_OPTION', `${where}: expected key ${k} to be a column name or { column, descending?, nulls? }; got ${JSON.stringify(item) ?? String(item)}.`, {
        option: `keys[${k}]`,
      });
    }
    const checked = checkOptions(`${where} key ${k}`, KEY, item);
    return { column: checked.column, descending: checked.descending === true, nullsFirst: checked.nulls === 'first' };
  });
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.column)) throw new SluiceError('INVALID_OPTION', `${where}: column ${JSON.stringify(key.column)} is a sort key twice.`, { option: 'keys', column: key.column });
    seen.add(key.column);
  }
  return keys;
}

export function describeKeys(keys: readonly ResolvedKey[]): string {
  return keys.map((key) => `${key.column}${key.descending ? ' desc' : ''}${key.nullsFirst ? ' nulls first' : ''}`).join(', ');
}

/** The rank of each code of a dictionary in the order of its strings, cached per dictionary and size. */
const ranks = new WeakMap<Dictionary, Float64Array>();

export function ranksOf(dictionary: Dictionary): Float64Array {
  let cached = ranks.get(dictionary);
  if (cached !== undefined && cached.length === dictionary.size) return cached;
  const values = dictionary.values;
  const order = Array.from({ length: values.length }, (_, code) => code).sort((a, b) => (values[a] < values[b] ? -1 : values[a] > values[b] ? 1 : 0));
  cached = new Float64Array(values.length);
  order.forEach((code, rank) => (cached![code] = rank));
  ranks.set(dictionary, cached);
  return cached;
}

/**
 * One key's values over some rows, for comparing: numbers (bool as 0/1, dates as days, timestamps as
 * ms, dictionary strings as the rank of their string when every batch shares one dictionary) or
 * strings, and a byte per row saying null.
 */
export interface KeyValues {
  numbers: Float64Array | undefined;
  strings: string[] | undefined;
  nulls: Uint8Array;
}

/**
 * How a key is compared for the whole sort: by number, by dictionary rank (every batch so far shared
 * `dictionary`), or by string. Decided as batches come in; a rank is only a faster form of the string's
 * order, so runs sorted by rank merge with runs sorted by string.
 */
export interface KeyMode {
  family: Family;
  dictionary: Dictionary | undefined;
}

export function keyModeOf(column: Column): KeyMode {
  return { family: familyOf(column.dtype), dictionary: column.dtype === 'dictionary' ? column.dictionary : undefined };
}

/** A later batch's column for the same key: a dictionary other than the first turns the key to strings. */
export function updateKeyMode(mode: KeyMode, column: Column, name: string, stage: string): void {
  if (familyOf(column.dtype) !== mode.family) {
    throw new SluiceError('STAGE_FAILED', `sort: key column ${JSON.stringify(name)} changed from ${mode.family}s to ${familyOf(column.dtype)}s during the run; give the source a schema so it keeps one type.`, {
      stage,
      column: name,
    });
  }
  if (mode.dictionary !== undefined && column.dictionary !== mode.dictionary) mode.dictionary = undefined;
}

/** Writes rows [0, length) of `column` into `out` from `offset`. */
function fillKey(column: Column, mode: KeyMode, out: KeyValues, offset: number): void {
  const length = column.length;
  const validity = column.validity;
  if (validity !== null) for (let i = 0; i < length; i++) out.nulls[offset + i] = getBit(validity, i) ? 0 : 1;
  if (out.strings !== undefined) {
    const strings = out.strings;
    if (column.dtype === 'dictionary') {
      const codes = column.data as TypedArray;
      const values = column.dictionary!.values;
      for (let i = 0; i < length; i++) strings[offset + i] = values[codes[i]];
    } else {
      const data = column.data as string[];
      for (let i = 0; i < length; i++) strings[offset + i] = data[i];
    }
    return;
  }
  const numbers = out.numbers!;
  if (column.dtype === 'dictionary') {
    const codes = column.data as TypedArray;
    const rank = ranksOf(mode.dictionary!);
    for (let i = 0; i < length; i++) numbers[offset + i] = rank[codes[i]];
  } else if (column.dtype === 'bool') {
    const bits = column.data as Uint8Array;
    for (let i = 0; i < length; i++) numbers[offset + i] = getBit(bits, i) ? 1 : 0;
  } else {
    numbers.set(column.data as TypedArray, offset);
  }
  if (validity !== null) for (let i = 0; i < length; i++) if (out.nulls[offset + i] === 1) numbers[offset + i] = 0;
}

/** The keys' values over the rows of `batches`, one after the other. */
export function keyValuesOf(batches: readonly Batch<any>[], keys: readonly ResolvedKey[], modes: readonly KeyMode[], rows: number): KeyValues[] {
  return keys.map((key, k) => {
    const mode = modes[k];
    const byNumber = mode.family === 'number' || mode.dictionary !== undefined;
    const out: KeyValues = { numbers: byNumber ? new Float64Array(rows) : undefined, strings: byNumber ? undefined : new Array<string>(rows), nulls: new Uint8Array(rows) };
    let offset = 0;
    for (const batch of batches) {
      fillKey(batch.column(key.column), mode, out, offset);
      offset += batch.length;
    }
    return out;
  });
}

/** Bytes per row of the keys' values (for the reservation). */
export function keyBytesPerRow(keys: readonly ResolvedKey[]): number {
  return keys.length * 9;
}

/**
 * Compares row `i` of `a` with row `j` of `b` on every key: negative when a's row goes first. NaN is
 * above every number (as PostgreSQL sorts it), -0 equals 0, nulls go where the key says; strings compare
 * by UTF-16 code units (JavaScript's `<`), not by locale.
 */
export type RowComparator = (a: readonly KeyValues[], i: number, b: readonly KeyValues[], j: number) => number;

export function rowComparator(keys: readonly ResolvedKey[]): RowComparator {
  const count = keys.length;
  const nullsFirst = keys.map((key) => key.nullsFirst);
  // -1 ascending, 1 descending: what "a's value is smaller" returns.
  const smaller = keys.map((key) => (key.descending ? 1 : -1));
  return (a, i, b, j) => {
    for (let k = 0; k < count; k++) {
      const x = a[k];
      const y = b[k];
      const xNull = x.nulls[i];
      const yNull = y.nulls[j];
      if (xNull !== 0 || yNull !== 0) {
        if (xNull === yNull) continue;
        return (xNull !== 0) === nullsFirst[k] ? -1 : 1;
      }
      const xs = x.numbers;
      if (xs !== undefined) {
        const u = xs[i];
        const v = y.numbers![j];
        if (u < v) return smaller[k];
        if (u > v) return -smaller[k];
        if (u === v) continue;
        // NaN is above every number.
        const uNaN = u !== u;
        if (uNaN === (v !== v)) continue;
        return uNaN ? -smaller[k] : smaller[k];
      }
      const s = x.strings![i];
      const t = y.strings![j];
      if (s === t) continue;
      return s < t ? smaller[k] : -smaller[k];
    }
    return 0;
  };
}

/** The order of `rows` rows by the keys, stable: equal keys keep their input order. */
export function sortedOrder(values: readonly KeyValues[], rows: number, compare: RowComparator): Uint32Array {
  const order = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  // TypedArray#sort with a comparator is a stable merge sort in V8; `a - b` makes ties explicit anyway.
  order.sort((a, b) => compare(values, a, values, b) || a - b);
  return order;
}
