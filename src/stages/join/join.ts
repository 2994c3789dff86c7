import type { AnyRow, Batch } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';
import type { RunContext, Source, Stage } from '../../contracts/contracts.ts';
import { hashRows } from '../aggregate/group-table.ts';
import { familyOf, valuesOf } from '../aggregate/values.ts';
import { BuildTable } from './build-table.ts';
import { GraceJoin } from './grace.ts';
import { describeJoin, type Joined, type JoinOn, type JoinOptions, type JoinPlanOptions, joinPlanOptions, type JoinSelect, type JoinType } from './options.ts';
import { JoinProbe } from './output.ts';
import { addedNames, checkKeys, checkSelected, checkSides, type JoinFigures, type JoinPlan, Reservation, widenAdded } from './plan.ts';
import { Dictionaries } from './spill-rows.ts';

export type { JoinFigures } from './plan.ts';

/** Build rows hashed and inserted per step: the unit a reservation is asked for. */
const CHUNK_ROWS = 4096;

/**
 * The right side's columns and dtypes before any of its rows is read: its schema, or the sample it
 * infers from (`describe`). A source that cannot say (a custom one without columns) is checked against
 * its first batch instead.
 */
async function rightColumnsOf(source: Source<any>, context: RunContext): Promise<Map<string, DType> | undefined> {
  const description = await source.describe(context);
  return description.columns === undefined ? undefined : new Map(description.columns.map((column) => [column.name, column.dtype]));
}

function columnsOfBatch(batch: Batch): Map<string, DType> {
  return new Map(batch.names.map((name) => [name, batch.columns[name].dtype]));
}

/**
 * Reads the build side into a table on the budget; when a reservation is refused, the table and the
 * rest of the build side go to partition files (a {@link GraceJoin}).
 */
async function build(plan: JoinPlan, source: Source<any>, left: Batch, reservation: Reservation): Promise<{ table?: BuildTable; grace?: GraceJoin }> {
  const { context, options } = plan;
  const withRows = !(options.type === 'semi' || options.type === 'anti');
  let table: BuildTable | undefined;
  let grace: GraceJoin | undefined;
  let headroom = 0;
  let seen = false;
  const hashes = new Int32Array(CHUNK_ROWS);
  const toDisk = async () => {
    grace = new GraceJoin(plan, await context.tempDir());
    await grace.spillTable(table!);
    reservation.release();
    table = undefined;
  };
  // Only the keys and the added columns are read from the other side (projection push-down), when
  // its columns are known; a source that could not describe them is read whole.
  const columns = plan.rightColumns === undefined ? undefined : [...new Set([...options.rightKeys, ...plan.added.map((added) => added.column)])];
  for await (const batch of context.readSource(source, columns)) {
    if (!seen) {
      seen = true;
      // A source that could not describe its columns is checked against its first batch.
      if (plan.rightColumns === undefined) setAdded(plan, left, columnsOfBatch(batch));
      table = new BuildTable(plan.keyFamilies, plan.added.map((added) => added.family), withRows);
      for (const added of plan.added) {
        const column = batch.column(added.column);
        added.dtype = column.dtype;
        added.dictionary = column.dictionary;
      }
    } else {
      for (const added of plan.added) widenAdded(added, batch.column(added.column).dtype, batch.column(added.column).dictionary, context.stage);
    }
    headroom = Math.max(headroom, batch.byteSize);
    const keys = options.rightKeys.map((key) => valuesOf(batch.column(key)));
    const payload = plan.added.map((added) => valuesOf(batch.column(added.column)));
    let from = 0;
    while (table !== undefined && from < batch.length) {
      const to = Math.min(batch.length, from + CHUNK_ROWS);
      if (!reservation.grow(table.bytesFor(to - from), headroom) && table.rows > 0) {
        await toDisk();
        break;
      }
      hashRows(keys, from, to, hashes);
      table.ensure(to - from);
      plan.figures.buildRows += table.insert(hashes, keys, payload, from, to);
      from = to;
      // Strings came in with the rows: reserve what they took, or spill.
      if (!reservation.grow(table.bytesFor(0), headroom)) await toDisk();
    }
    if (grace !== undefined && from < batch.length) {
      const rest = new Int32Array(batch.length - from);
      hashRows(keys, from, batch.length, rest);
      await grace.spillBuildRows(keys, payload, rest, from, batch.length);
    }
  }
  // An empty other side: a table with no rows (its key types from its plan, or the left's).
  if (!seen) {
    if (plan.rightColumns === undefined) plan.keyFamilies = options.leftKeys.map((key) => familyOf(left.column(key).dtype));
    table = new BuildTable(plan.keyFamilies, plan.added.map((added) => added.family), withRows);
  }
  return { table, grace };
}

/** The right columns the output gets, with the dtypes the right side says it has. */
function setAdded(plan: JoinPlan, left: Batch, rightColumns: Map<string, DType>): void {
  plan.rightColumns = rightColumns;
  checkSides(plan.options, left, rightColumns, plan.rightLocation, plan.context.stage);
  plan.keyFamilies = plan.options.rightKeys.map((key) => familyOf(rightColumns.get(key)!));
  plan.added = addedNames(plan.options, rightColumns).map(({ output, column }) => {
    const dtype = rightColumns.get(column)!;
    return { output, column, dtype, dictionary: undefined, family: familyOf(dtype) };
  });
}

/**
 * Joins the pipeline's rows (the left, probe side) with the rows of another source (the right, build
 * side) on equal keys, as SQL does: nulls never match; -0 equals 0 and NaN equals NaN (as in a group-by).
 * The build side is read whole into a hash table reserved from the run's memory budget; when it does
 * not fit, both sides are partitioned by key hash to the stage's temporary folder and joined partition by
 * partition (a grace hash join, recursively while a partition is too big). Key types must be of one kind
 * (numbers, text, bool, timestamp or date), checked against the other side's schema before any of its
 * rows is read.
 *
 * Output order: when nothing spilled, left rows in input order, each with its matches in the order of the
 * other side. When it spilled: left rows that cannot match first, then partition by partition.
 *
 * @example
 * .join(csv('customers.csv', { schema: Customer }), { on: ['customer', 'id'], type: 'left', select: ['name', 'segment'] })
 */
export function join<R, const On extends JoinOn<L, R>, const T extends JoinType = 'inner', const S extends JoinSelect<R> | undefined = undefined, L = AnyRow>(
  source: Source<R>,
  options: JoinOptions<On, T, S> & { figures?: JoinFigures },
): Stage<L, Joined<L, R, On, T, S>> {
  const { figures: given, ...rest } = options;
  const checked: JoinPlanOptions = joinPlanOptions(rest);
  const stage: Stage<L, Joined<L, R, On, T, S>> = async function* joinStage(input, context) {
    const figures: JoinFigures = given ?? { buildRows: 0, spilledBytes: 0, spilledPartitions: 0, spillMs: 0 };
    const plan: JoinPlan = { options: checked, context, rightLocation: source.location, rightColumns: undefined, keyFamilies: [], added: [], figures, spills: [], dictionaries: new Dictionaries() };
    const iterator = input[Symbol.asyncIterator]();
    const reservation = new Reservation(context.memory);
    try {
      const rightColumns = await rightColumnsOf(source, context);
      const first = await iterator.next();
      // No left rows: nothing can come out, and the other side is not read.
      if (first.done === true) return;
      const left = first.value as Batch;
      if (rightColumns !== undefined) setAdded(plan, left, rightColumns);
      const built = await build(plan, source, left, reservation);
      // Later left batches: the same keys, of the same kinds (an inferred column may have widened).
      const checkLeft = (batch: Batch) => plan.rightColumns !== undefined && checkSides(checked, batch, plan.rightColumns, source.location, context.stage);
      if (built.table !== undefined) {
        const probe = new JoinProbe(checked.type, checked.leftKeys, built.table, plan.added);
        yield* probe.probe(left) as Iterable<Batch<any>>;
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
          checkLeft(next.value as Batch);
          yield* probe.probe(next.value as Batch) as Iterable<Batch<any>>;
        }
      } else {
        const grace = built.grace!;
        for (let next: IteratorResult<Batch> = { done: false, value: left }; next.done !== true; next = (await iterator.next()) as IteratorResult<Batch>) {
          if (next.value !== left) checkLeft(next.value);
          const settled = await grace.addLeft(next.value);
          if (settled !== undefined) yield settled as Batch<any>;
        }
        yield* grace.finish() as AsyncIterable<Batch<any>>;
      }
    } finally {
      reservation.release();
      await iterator.return?.();
      figures.spillMs = Math.round(figures.spillMs);
      context.report?.({ buildRows: figures.buildRows, spilledBytes: figures.spilledBytes, spilledPartitions: figures.spilledPartitions, spillMs: figures.spillMs });
      await Promise.all(plan.spills.map((spill) => spill.remove()));
    }
  };
  stage.stageName = 'join';
  // Before the run reads a row (and in --dry-run): the keys against the other side's plan, where the
  // left's dtypes are known from the source's plan.
  stage.planCheck = async (input, context, name) => {
    const rightColumns = await rightColumnsOf(source, context);
    if (rightColumns === undefined) return;
    checkKeys(checked, (key) => input.get(key), rightColumns, source.location, name);
    checkSelected(checked, rightColumns, source.location, name);
  };
  stage.stageDetail = describeJoin(checked, `${source.kind} ${source.location}`);
  return stage;
}
