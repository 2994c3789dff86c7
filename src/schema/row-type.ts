import type { z } from 'zod';
import type { AnyRow } from '../batch/batch.ts';

/** The row type of a source: the schema's output, narrowed to the selected columns. */
export type RowOf<S, K extends string> = S extends z.ZodType
  ? string extends K
    ? z.output<S>
    : Pick<z.output<S>, K & keyof z.output<S>>
  : AnyRow;
