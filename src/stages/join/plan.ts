import type { Batch } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';
import { SluiceError } from '../../core/errors.ts';
import type { StageContext, StageMemory } from '../../contracts/contracts.ts';
import type { SpillPartitions } from '../aggregate/spill.ts';
import { type Family, familyOf } from '../aggregate/values.ts';
import type { JoinPlanOptions } from './options.ts';
import type { AddedColumn } from './output.ts';
import type { Dictionaries } from './spill-rows.ts';

/** What a join did, for the run summary (`context.report`). */
export interface JoinFigures {
  /** Build rows kept (no null key). */
  buildRows: number;
  spilledBytes: number;
  /** Partition files written, both sides, every level. */
  spilledPartitions: number;
  spillMs: number;
}

/** A right column the output gets, with the family its values are kept in. */
export interface AddedRightColumn extends AddedColumn {
  column: string;
  family: Family;
}

/** One join, once both sides' columns are known. */
export interface JoinPlan {
  options: JoinPlanOptions;
  context: StageContext;
  /** The other side, as people know it (`customers.csv`). */
  rightLocation: string;
  /** The right side's columns and dtypes, from its plan or its first batch. */
  rightColumns: Map<string, DType> | undefined;
  keyFamilies: Family[];
  added: AddedRightColumn[];
  figures: JoinFigures;
  /** Every spill made, so `finally` removes them all however the stage ends. */
  spills: SpillPartitions<any>[];
  dictionaries: Dictionaries;
}

/** Bytes a table may hold unreserved while the process is over its budget by RSS (see Reservation.grow), as a group-by's. */
const PRESSURE_FLOOR = 256 * 1024;

/** A build table's reservation from the budget, grown as the table grows. */
export class Reservation {
  reserved = 0;

  private readonly memory: StageMemory;
  constructor(memory: StageMemory) {
    this.memory = memory;
  }

  /**
   * Reserves up to `bytes` in all, leaving `headroom` free (the next batch of the other side, which
   * must still fit or the build would wait on itself). False when refused: spill. Refused while the
   * process is above its budget by RSS (pressure, whatever is reserved), a small table goes on
   * unreserved: spilling it would free less than the pressure is about and cost a pass over the disk.
   */
  grow(bytes: number, headroom = 0): boolean {
    const delta = bytes - this.reserved;
    if (delta <= 0) return true;
    if (this.memory.tryReserve(delta + headroom)) {
      this.memory.release(headroom);
      this.reserved += delta;
      return true;
    }
    return !this.memory.tryReserve(0) && bytes < PRESSURE_FLOOR;
  }

  release(): void {
    this.memory.release(this.reserved);
    this.reserved = 0;
  }
}

/** Key dtypes that can be equal: every number type with every other (by value), text with text, and so on. */
function keyKind(dtype: DType): string {
  if (dtype === 'string' || dtype === 'dictionary') return 'text';
  if (dtype === 'bool' || dtype === 'timestamp' || dtype === 'date') return dtype;
  return 'number';
}

/** Where a column of the other side is, for errors: `id of customers.csv`. */
function right(column: string, location: string): string {
  return `${JSON.stringify(column)} of ${location}`;
}

/**
 * The keys against the other side's columns: each there, and of the same kind as the left key's dtype
 * where `leftType` knows it (a missing left key is checkSides' to report, on the first batch).
 */
export function checkKeys(options: JoinPlanOptions, leftType: (key: string) => DType | undefined, rightColumns: ReadonlyMap<string, DType>, rightLocation: string, stage: string): void {
  options.leftKeys.forEach((key, k) => {
    const rightKey = options.rightKeys[k];
    const rightType = rightColumns.get(rightKey);
    if (rightType === undefined) {
      throw new SluiceError('PIPELINE_SHAPE', `join: no column ${right(rightKey, rightLocation)} to join on; it has ${[...rightColumns.keys()].join(', ')}.`, { stage, column: rightKey });
    }
    const leftDType = leftType(key);
    if (leftDType !== undefined && keyKind(leftDType) !== keyKind(rightType)) {
      throw new SluiceError(
        'PIPELINE_SHAPE',
        `join: key ${JSON.stringify(key)} is ${leftDType} but ${right(rightKey, rightLocation)} is ${rightType}; keys must be of one kind (numbers, text, bool, timestamp or date): give one side a schema that types them alike.`,
        { stage, column: key, expected: `a ${keyKind(rightType)} key like ${rightKey} (${rightType})`, value: leftDType },
      );
    }
  });
}

/**
 * The keys and added columns against both sides' columns: every key on its side, key dtypes of one
 * kind, no added column named like a left one. Called with the left's first batch and the right's plan
 * (its schema, or the sample it infers from), before any row of the other side is read; the keys were
 * checked before the run read anything where the left's plan knew their dtypes (the stage's planCheck).
 */
export function checkSides(options: JoinPlanOptions, left: Batch, rightColumns: ReadonlyMap<string, DType>, rightLocation: string, stage: string): void {
  for (const key of options.leftKeys) {
    if (left.columns[key] === undefined) {
      throw new SluiceError('PIPELINE_SHAPE', `join: no column ${JSON.stringify(key)} to join on in the pipeline's rows; they have ${left.names.join(', ')}.`, { stage, column: key });
    }
  }
  checkKeys(options, (key) => left.columns[key].dtype, rightColumns, rightLocation, stage);
  checkSelected(options, rightColumns, rightLocation, stage);
  for (const { output, column } of addedNames(options, rightColumns)) {
    if (left.columns[output] !== undefined) {
      throw new SluiceError(
        'PIPELINE_SHAPE',
        `join: both sides have a column ${JSON.stringify(output)}; leave it out with select: [...], or rename it with select: { ${JSON.stringify(`${output}_right`)}: ${JSON.stringify(column)} }.`,
        { stage, column: output },
      );
    }
  }
}

/** Every column `select` names is one the other side has. */
export function checkSelected(options: JoinPlanOptions, rightColumns: ReadonlyMap<string, DType>, rightLocation: string, stage: string): void {
  for (const { column } of addedNames(options, rightColumns)) {
    if (!rightColumns.has(column)) {
      throw new SluiceError('PIPELINE_SHAPE', `join: select names ${right(column, rightLocation)}, which has no such column; it has ${[...rightColumns.keys()].join(', ')}.`, { stage, column });
    }
  }
}

/** The right columns the output gets: `select`'s, or every column of the right side but its keys. */
export function addedNames(options: JoinPlanOptions, rightColumns: ReadonlyMap<string, DType>): { output: string; column: string }[] {
  if (options.type === 'semi' || options.type === 'anti') return [];
  if (options.select !== undefined) return options.select;
  return [...rightColumns.keys()].filter((name) => !options.rightKeys.includes(name)).map((name) => ({ output: name, column: name }));
}

/** A right column as the build keeps it: the dtype seen, widened when a later batch's is wider (an inferred int8 that became float64). */
export function widenAdded(added: AddedRightColumn, dtype: DType, dictionary: AddedColumn['dictionary'], stage: string): void {
  if (familyOf(dtype) !== added.family) {
    throw new SluiceError('STAGE_FAILED', `join: column ${JSON.stringify(added.column)} of the other side changed from ${added.dtype} to ${dtype} during the run; give it a schema so it keeps one type.`, {
      stage,
      column: added.column,
    });
  }
  if (dtype === added.dtype && dictionary === added.dictionary) return;
  if (added.family === 'string') {
    added.dtype = 'string';
    added.dictionary = undefined;
  } else if (dtype !== added.dtype) {
    added.dtype = 'float64';
  }
}
