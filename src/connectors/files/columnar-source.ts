/**
 * The skeleton of the columnar file sources (Parquet, Arrow IPC), as file-source.ts is of the
 * row-by-row ones (CSV, NDJSON). Those push every row through a row decoder; a columnar file holds
 * typed columns already, which go on as they are (sliced, never copied row by row) unless a schema
 * asks for every value to be checked. A format opens a file, says its columns, and reads its units
 * (row groups, record batches) as batches; the skeleton does the rest, the same way for each format:
 * - the files: a path, a glob or a list of either, sorted;
 * - `incremental: true`: files an earlier committed run finished are passed over;
 * - `--limit`: rows read from the input; a unit is cut at the limit, and a file cut short is not
 *   marked finished;
 * - a unit larger than the run's batch size is handed on in slices of it; with a schema, its rows are
 *   checked and those that break it rejected, naming the file, the unit and the row;
 * - one dictionary per dictionary column for the run, so codes mean the same in every batch;
 * - progress across the files; an input with no rows still passes on its columns (one empty batch).
 */
import type { AnyRow, Batch, BatchOrigin } from '../../batch/batch.ts';
import { Batch as BatchClass, columnRecord } from '../../batch/batch.ts';
import type { DType } from '../../batch/dtype.ts';
import type { ErrorLocation } from '../../core/errors.ts';
import type { DescribeContext, RunContext, Source, SourceContext, SourceDescription } from '../../contracts/contracts.ts';
import { clonePlans, emptyBatch } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import { checkedBatches, type ColumnarOptions, planFor, RunDictionaries, schemaPlansOf, sliceBatch, sliceColumn, wantedColumns } from './columnar.ts';
import { unfinishedFiles } from './finished-files.ts';
import { projectPlans } from './file-source.ts';
import { expandInputs, totalSize } from './inputs.ts';

/** One file of a columnar format, opened. */
export interface ColumnarFile {
  /** The columns read from it, in order, and the dtype each reads as. */
  readonly columns: readonly { name: string; dtype: DType }[];
  /**
   * Its units in order (row groups, record batches), each one batch whose origin names the file and
   * the unit. `rowsWanted()` is how many more rows the read takes: a unit may stop there.
   */
  units(rowsWanted: () => number): AsyncIterable<Batch>;
  /** Bytes of the file read so far, for progress. */
  bytesRead(): number;
  /** What `--dry-run` says of the file (its row groups, its format). */
  notes(): string[];
  close(): Promise<void>;
}

export interface ColumnarFormat {
  /** The source's kind: `parquet`, `arrow`. */
  readonly kind: string;
  /** Which reader runs, for the summary and `--dry-run`. */
  readonly engine: string;
  /**
   * Opens one file. `wanted(all)` gives the names of the columns to read out of all the file has;
   * `dictionaries` are the run's; `context` takes the format's warnings (a dictionary that filled up).
   */
  open(file: string, wanted: (all: readonly string[]) => readonly string[], dictionaries: RunDictionaries, context: Pick<RunContext, 'signal' | 'warn'>): Promise<ColumnarFile>;
  /** After the last file: how the reader went (the share of chunks on a fast path, say), if anything. */
  engineDetail?(): string | undefined;
}

/** A source over files (a path, a glob, or a list) of one columnar format; `format()` makes the format's state for one read. */
export function columnarSource<R = AnyRow>(path: string | readonly string[], options: ColumnarOptions<unknown, string>, format: () => ColumnarFormat): Source<R> {
  const location = typeof path === 'string' ? path : path.join(', ');
  /** The columns to read of all a file has: the options' (schema, `columns`), and of those only the ones the pipeline uses (push-down). */
  const wantedBy = (used: readonly string[] | undefined) => (all: readonly string[]) => {
    const named = wantedColumns(options, all);
    return used === undefined ? named : projectPlans(named.map((name) => ({ name })), used).map(({ name }) => name);
  };
  const { kind, engine } = format();
  return {
    kind,
    location,

    async describe(context: DescribeContext): Promise<SourceDescription> {
      const files = await expandInputs(path);
      const opened = await format().open(files[0], wantedBy(undefined), new RunDictionaries(options.dictionaryCap), context);
      try {
        const all = options.schema !== undefined ? schemaPlansOf(options) : opened.columns.map(({ name, dtype }) => planFor(name, dtype));
        const plans = projectPlans(all, context.columns);
        return { kind, location: files.join(', '), engine, columns: plans, ...(all.length > plans.length ? { columnsOf: all.length } : {}), totalBytes: await totalSize(files), notes: opened.notes() };
      } finally {
        await opened.close();
      }
    },

    async *read(context: SourceContext): AsyncGenerator<Batch<R>> {
      const reader = format();
      const files = await expandInputs(path);
      const totalBytes = await totalSize(files);
      context.engine(engine);
      const dictionaries = new RunDictionaries(options.dictionaryCap);
      const progress = await unfinishedFiles(files, context, options.incremental);
      const schemaPlans = options.schema === undefined ? null : clonePlans(projectPlans(schemaPlansOf(options), context.columns));
      // Only the columns the pipeline uses are read from disk; the summary says how many of how many.
      let reported = false;
      const pushed = wantedBy(context.columns);
      const wanted = (all: readonly string[]) => {
        const read = pushed(all);
        if (!reported) context.columnsRead(read, wantedColumns(options, all));
        reported = true;
        return read;
      };
      let rowsLeft = context.limit ?? Infinity;
      let doneBytes = 0;
      let yielded = false;
      let lastPlans: ColumnPlan[] = schemaPlans ?? [];
      for (const file of progress.files) {
        if (rowsLeft <= 0) break;
        const opened = await reader.open(file, wanted, dictionaries, context);
        // Cut short by the limit, a file is not finished: marking it would skip its rest next time.
        let whole = true;
        try {
          if (schemaPlans === null) lastPlans = opened.columns.map(({ name, dtype }) => planFor(name, dtype, dtype === 'dictionary' ? dictionaries.of(name) : undefined));
          for await (const unit of opened.units(() => rowsLeft)) {
            if (rowsLeft <= 0) {
              whole = false;
              break;
            }
            context.signal.throwIfAborted();
            const rows = Math.min(unit.length, rowsLeft);
            if (rows < unit.length) whole = false;
            const kept = rows < unit.length ? head(unit, rows) : unit;
            const pieces = schemaPlans === null ? sliceBatch(kept, context.batchRows()) : await checkedBatches(kept, schemaPlans, context, (row) => rowAt(kept.origin, row));
            for (const piece of pieces) {
              yielded = true;
              yield piece as Batch<R>;
            }
            rowsLeft -= rows;
            context.progress(Math.min(doneBytes + opened.bytesRead(), totalBytes), totalBytes);
          }
        } finally {
          await opened.close();
        }
        doneBytes += await totalSize([file]);
        context.progress(Math.min(doneBytes, totalBytes), totalBytes);
        if (whole) await progress.finished(file);
      }
      if (!yielded) yield emptyBatch(lastPlans) as Batch<R>;
      const detail = reader.engineDetail?.();
      if (detail !== undefined) context.engine(engine, detail);
    },
  };
}

/** The first `rows` rows of a unit, as views (the units start at row 0, so bitmaps need no shift). */
function head(unit: Batch, rows: number): Batch {
  const columns = columnRecord();
  for (const name of unit.names) columns[name] = sliceColumn(unit.columns[name], 0, rows);
  return new BatchClass(columns, rows, unit.origin);
}

/** Where row `row` (1-based, within its unit) of a unit is: the file, the unit, the row. */
function rowAt(origin: BatchOrigin, row: number): ErrorLocation {
  const location: ErrorLocation = { file: origin.file, row };
  if (origin.rowGroup !== undefined) location.rowGroup = origin.rowGroup;
  if (origin.recordBatch !== undefined) location.recordBatch = origin.recordBatch;
  return location;
}
