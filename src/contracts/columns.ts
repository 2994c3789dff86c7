/**
 * Projection push-down: which columns each stage reads, so that the run can tell the source, from the
 * sink back, the only columns anything uses. A CSV source then skips the others in its scanner, NDJSON
 * does not materialise them, PostgreSQL does not select them, Parquet does not read them (pandas'
 * `usecols`, chosen for the user).
 *
 * A stage declares its use on `stage.columns` with one line:
 *   sort:    `stage.columns = passesOn(sortColumns)`         (reads some, passes every column on)
 *   join:    `stage.columns = passesOn(onColumns, joined)`   (and adds columns of its own)
 *   groupBy: `stage.columns = replacesRows([...keys, ...aggregated])` (output made from those alone)
 * A stage that declares nothing (a custom `.pipe`, `map` or `tap` without `reads`) may read any column:
 * the push-down stops there, and every column before it is read.
 */

/** Column names, or every column. */
export type ColumnSet = readonly string[] | 'all';

/** How a stage uses its input's columns. See the module comment. */
export interface ColumnUse {
  /** The input columns it reads; 'all' when it may read any (the push-down stops at this stage). */
  readonly reads: ColumnSet;
  /**
   * What becomes of the input columns it does not read: 'kept' (passed on as they are, as filter,
   * derive, sort and join do) or 'dropped' (the output is made from `reads` alone, as select, groupBy
   * and map do).
   */
  readonly rest: 'kept' | 'dropped';
  /** Output columns the stage makes (or replaces): a later stage's need for them is not its input's. */
  readonly makes?: readonly string[];
  /** Output name → input name, for columns passed on under another name (rename). */
  readonly renames?: Readonly<Record<string, string>>;
}

/** May read any column: the push-down stops here. */
export const READS_ALL: ColumnUse = Object.freeze({ reads: 'all', rest: 'kept' });

/** Reads `reads`, passes every input column on, and adds (or replaces) `makes`. */
export function passesOn(reads: readonly string[], makes: readonly string[] = []): ColumnUse {
  return { reads: [...reads], rest: 'kept', makes: [...makes] };
}

/** Makes its output from `reads` alone (select, groupBy, a map that declares what it reads). */
export function replacesRows(reads: readonly string[]): ColumnUse {
  return { reads: [...reads], rest: 'dropped' };
}

/** The columns a stage needs from its input for its output's `needed` columns. */
export function neededBefore(use: ColumnUse | undefined, needed: ColumnSet): ColumnSet {
  if (use === undefined || use.reads === 'all') return 'all';
  if (use.rest === 'dropped') return unique(use.reads);
  if (needed === 'all') return 'all';
  const made = new Set(use.makes ?? []);
  const renames = use.renames ?? {};
  // An input column renamed to another name is not in the output under its own: a later need of that
  // name is nobody's (the stage that needs it fails on the batch, as without the push-down).
  const renamedAway = new Set(Object.values(renames));
  const kept: string[] = [];
  for (const name of needed) {
    if (made.has(name)) continue;
    if (Object.hasOwn(renames, name)) kept.push(renames[name]);
    else if (!renamedAway.has(name)) kept.push(name);
  }
  return unique([...use.reads, ...kept]);
}

/**
 * The columns a source must give for these stages, walking back from the sink (which writes every
 * column it is handed): 'all' when a stage may read any column before one that drops the rest.
 */
export function neededColumns(stages: readonly { columns?: ColumnUse }[]): ColumnSet {
  let needed: ColumnSet = 'all';
  for (let s = stages.length - 1; s >= 0; s--) needed = neededBefore(stages[s].columns, needed);
  return needed;
}

/**
 * When every column is read although some stage drops columns: the stage nearest the source that may
 * read any column (the one to give `reads`), for `--dry-run` to name. Undefined otherwise.
 */
export function pushDownStop(stages: readonly { columns?: ColumnUse }[]): number | undefined {
  let needed: ColumnSet = 'all';
  let stop: number | undefined;
  for (let s = stages.length - 1; s >= 0; s--) {
    const before = neededBefore(stages[s].columns, needed);
    if (before === 'all' && needed !== 'all') stop = s;
    needed = before;
  }
  return needed === 'all' ? stop : undefined;
}

/** The stage nearest the source that reads `name`, if one says so. */
export function firstReader(stages: readonly { columns?: ColumnUse }[], name: string): number | undefined {
  const found = stages.findIndex((stage) => Array.isArray(stage.columns?.reads) && stage.columns.reads.includes(name));
  return found < 0 ? undefined : found;
}

function unique(names: readonly string[]): string[] {
  return [...new Set(names)];
}
