import type { DType } from '../batch/dtype.ts';
import type { ColumnUse } from '../contracts/columns.ts';
import type { RunContext, SourceDescription, Stage } from '../contracts/contracts.ts';

/**
 * The dtypes a stage's output columns are known to have, from its input's: a stage that passes the
 * rest on keeps them (less what it makes, under their new names when renamed); one that may read any
 * column or makes its output anew (map, a custom stage, groupBy, select) leaves nothing known.
 */
function columnsAfter(use: ColumnUse | undefined, known: ReadonlyMap<string, DType>): Map<string, DType> {
  if (use === undefined || use.reads === 'all' || use.rest === 'dropped') return new Map();
  const after = new Map(known);
  for (const made of use.makes ?? []) after.delete(made);
  for (const [output, input] of Object.entries(use.renames ?? {})) {
    const dtype = known.get(input);
    after.delete(input);
    if (dtype === undefined) after.delete(output);
    else after.set(output, dtype);
  }
  return after;
}

/** Whether a pipeline has a stage to check before it runs (so that a pipeline without one is not described twice). */
export function hasPlanChecks(stages: readonly Stage<any, any>[]): boolean {
  return stages.some((stage) => stage.planCheck !== undefined);
}

/**
 * Runs each stage's `planCheck` with the columns known at its input, from the source's description:
 * before any row is read, and in `--dry-run`. A stage whose input columns are all unknown is checked
 * on its first batch instead (its own check there).
 */
export async function checkStagesAtPlan(stages: readonly Stage<any, any>[], names: readonly string[], description: SourceDescription, context: RunContext): Promise<void> {
  let known = new Map((description.columns ?? []).map((column) => [column.name, column.dtype]));
  for (let s = 0; s < stages.length; s++) {
    const stage = stages[s];
    if (stage.planCheck !== undefined && known.size > 0) await stage.planCheck(known, context, names[s]);
    known = columnsAfter(stage.columns, known);
  }
}
