import { columnRecord } from '../batch/batch.ts';
import type { Column } from '../batch/column.ts';
import { SluiceError } from '../core/errors.ts';
import type { Stage } from '../contracts/contracts.ts';
import { z } from 'zod';
import { checkArgument } from '../core/options.ts';
import { replacesRows } from '../contracts/columns.ts';

/** Keeps only the named columns, in that order (projection). Sources push it down when they can. */
export function select<R, const K extends keyof R & string>(...names: K[]): Stage<R, Pick<R, K>> {
  checkArgument('select()', 'names', z.array(z.string().min(1)), "column names such as select('id', 'total')", names);
  const stage: Stage<R, Pick<R, K>> = async function* selectStage(input, context) {
    for await (const batch of input) {
      const columns = columnRecord();
      for (const name of names) {
        const column = batch.columns[name];
        if (column === undefined) {
          throw new SluiceError(
            'STAGE_FAILED',
            `select: no column ${JSON.stringify(name)}; the batch has ${batch.names.join(', ')}`,
            { stage: context.stage, column: name },
          );
        }
        columns[name] = column;
      }
      yield batch.withColumns<Pick<R, K>>(columns);
    }
  };
  stage.stageName = 'select';
  stage.rowWise = true;
  stage.columns = replacesRows(names);
  return stage;
}
