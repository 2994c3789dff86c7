/**
 * The `reads` option of the stages that hand user code a row or a batch (filter, derive, map, tap):
 * the columns that code reads. Sluice cannot see inside a function, so without it such a stage may
 * read any column and stops the projection push-down (contracts/columns.ts); with it, the source
 * decodes only what the pipeline uses. A column the function reads but `reads` leaves out is not
 * there (`row.x` is undefined) once the push-down applies: `pipeline({ pushDown: false })` compares.
 */
import { z } from 'zod';
import type { Batch } from '../batch/batch.ts';
import { closestName, checkOptions, option, optionsObject } from '../core/options.ts';
import { SluiceError } from '../core/errors.ts';

export interface ReadsOption<R> {
  /**
   * Every column the function reads, e.g. `{ reads: ['status', 'quantity'] }`: only those (and what
   * later stages use) are decoded at the source. Without it, every column is read.
   */
  reads?: readonly (keyof R & string)[];
}

const READS_OPTIONS = optionsObject({
  reads: option(z.array(z.string().min(1).meta({ expected: 'a column name' })), "a list of the column names the function reads, such as ['status', 'quantity']"),
});

/** The checked `reads` of a stage's options (undefined: may read any column). */
export function readsOption(where: string, options: unknown): readonly string[] | undefined {
  return checkOptions(where, READS_OPTIONS, options).reads;
}

/**
 * Fails at the first batch when `reads` names a column the input does not have: a misspelt name would
 * otherwise push a projection down that leaves out the column meant.
 */
export function checkReads(batch: Batch<unknown>, reads: readonly string[] | undefined, stage: string): void {
  if (reads === undefined) return;
  for (const name of reads) {
    if (batch.columns[name] !== undefined) continue;
    const nearest = closestName(name, batch.names);
    throw new SluiceError(
      'STAGE_FAILED',
      `${stage}: \`reads\` names ${JSON.stringify(name)}, which its input does not have${nearest ? ` (did you mean ${JSON.stringify(nearest)}?)` : ''}; it has ${batch.names.join(', ')}.`,
      { stage, column: name, expected: 'a column of the stage input' },
    );
  }
}
