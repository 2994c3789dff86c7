import { columnRecord } from '../batch/batch.ts';
import type { Column } from '../batch/column.ts';
import type { Stage } from '../contracts/contracts.ts';
import { z } from 'zod';
import { checkArgument } from '../core/options.ts';

/** The row type after `rename`: keys in `M` get their new names. */
export type Renamed<R, M> = {
  [K in keyof R as K extends keyof M ? (M[K] extends string ? M[K] : K) : K]: R[K];
};

/** Renames columns: `rename({ old_name: 'newName' })`. Columns keep their storage; nothing is copied. */
export function rename<R, const M extends Partial<Record<keyof R & string, string>>>(mapping: M): Stage<R, Renamed<R, M>> {
  checkArgument('rename()', 'mapping', z.record(z.string(), z.string().min(1)), "an object of old name to new name such as { old_name: 'newName' }", mapping);
  const stage: Stage<R, Renamed<R, M>> = async function* renameStage(input) {
    for await (const batch of input) {
      const columns = columnRecord();
      for (const name of batch.names) {
        // Own keys only: `mapping.constructor` of a plain object is Object, not a new name.
        const renamed = Object.hasOwn(mapping, name) ? ((mapping as Record<string, string | undefined>)[name] ?? name) : name;
        columns[renamed] = batch.columns[name];
      }
      yield batch.withColumns<Renamed<R, M>>(columns);
    }
  };
  stage.stageName = 'rename';
  stage.rowWise = true;
  // Output name → input name: what a later stage needs of `newName` is `old_name` of the input.
  const renames: Record<string, string> = {};
  for (const [from, to] of Object.entries(mapping as Record<string, string | undefined>)) if (to !== undefined) renames[to] = from;
  stage.columns = { reads: [], rest: 'kept', renames };
  return stage;
}
