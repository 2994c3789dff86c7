import { type AnyRow, columnRecord, moveView } from '../batch/batch.ts';
import type { Column } from '../batch/column.ts';
import type { Stage } from '../contracts/contracts.ts';
import { checkArgument, functionValue } from '../core/options.ts';
import { ComputedColumn } from './values.ts';
import { replacesRows } from '../contracts/columns.ts';
import { checkReads, type ReadsOption, readsOption } from './reads.ts';

/**
 * Replaces each row by the object `mapper` returns. Builds one object per row, so it is slower than
 * `derive`/`select`/`rename`, which keep columns as they are; use it when the row changes shape.
 */
export function map<R, Out extends AnyRow>(mapper: (row: R) => Out, options: ReadsOption<R> = {}): Stage<R, Out> {
  checkArgument('map()', 'mapper', functionValue, 'a function (row) => object', mapper);
  const reads = readsOption('map()', options);
  const stage: Stage<R, Out> = async function* mapStage(input, context) {
    const computed = new Map<string, ComputedColumn>();
    let first = true;
    for await (const batch of input) {
      if (first) checkReads(batch, reads, context.stage);
      first = false;
      const view = batch.view();
      const outputs: Out[] = new Array(batch.length);
      for (let i = 0; i < batch.length; i++) outputs[i] = mapper(moveView(view, i));
      for (const output of outputs) {
        for (const name of Object.keys(output)) {
          if (!computed.has(name)) computed.set(name, new ComputedColumn(name, context.stage));
        }
      }
      for (const column of computed.values()) column.begin(batch.length);
      outputs.forEach((output, i) => {
        for (const [name, column] of computed) column.set(i, output[name]);
      });
      const columns = columnRecord();
      for (const [name, column] of computed) columns[name] = column.finish();
      yield batch.withColumns<Out>(columns);
    }
  };
  stage.stageName = 'map';
  stage.rowWise = true;
  if (reads !== undefined) stage.columns = replacesRows(reads);
  return stage;
}
