/**
 * The skeleton of every file source, as file-sink.ts is of every file sink. A format says how to sample
 * a file, how to plan its columns and how to read one file into batches; the skeleton does the rest,
 * the same way for CSV, NDJSON and any format after them:
 * - the files: a path, a glob or a list of either, sorted (`.gz` is gunzipped by `openInput`);
 * - `incremental: true`: files an earlier committed run finished are passed over (finished-files.ts);
 * - progress: bytes read across the files, against their total size;
 * - `--limit` (SourceContext.limit): rows read from the input, handed on or rejected alike. Every row
 *   goes through a decoder from {@link FileReadContext.decoder}; they share one RowLimit and are full
 *   once it is used up, so the row after the limit is never decoded, rejected or counted, and the
 *   skeleton stops the read there (the file is then not marked finished);
 * - an input with no rows still passes on its columns (one empty batch), so a CSV sink writes its header;
 * - an input error that knows only its byte offset gets its line and column;
 * - a file that changes while it is read (size, modification time or inode at its end not those at its
 *   start) fails the run with INPUT_CHANGED, whatever the format made of its bytes.
 *
 * A new file source (say, a JSON-array reader) implements {@link FileFormat}; ndjson/source.ts is the
 * smallest one to read.
 */
import { resolve } from 'node:path';
import type { AnyRow, Batch } from '../../batch/batch.ts';
import { SluiceError, type ErrorLocation } from '../../core/errors.ts';
import type { RunWarning } from '../../core/warnings.ts';
import type { DescribeContext, RunContext, Source, SourceContext, SourceDescription, SourcePartition, SourceSample, ThreadPart, ThreadParts, ThreadPartsContext } from '../../contracts/contracts.ts';
import { clonePlans, emptyBatch, RowDecoder, RowLimit, type Violation } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { DType } from '../../batch/dtype.ts';
import { FINISHED_FILES_STATE_KEY, type FinishedFiles, splitFinished, unfinishedFiles } from './finished-files.ts';
import { checkUnchanged, expandInputs, inputIdentity, totalSize, withLineOf } from './inputs.ts';

/** Values (rows × columns) the first batch of a run holds at most; see `read`. */
const FIRST_BATCH_CELLS = 64 * 1024;

/** What a format settled for one run (or one `describe`): the columns and the reader. */
export interface FilePlan {
  /** The columns. The skeleton reads with a copy of its own, as inferred columns widen and dictionaries grow during a run. */
  plans: ColumnPlan[];
  /** Which reader runs, for the summary and `--dry-run`. */
  engine: string;
  /** What the planning found worth saying (a column inferred from nothing, say): given to the run's warnings and `--dry-run`. */
  warnings?: readonly RunWarning[];
  /** After the last file: how the reader went (the share of records on a fast path, say), if anything. */
  engineDetail?(): string | undefined;
}

/** What the skeleton hands a format for reading one file. */
export interface FileReadContext {
  readonly file: string;
  readonly signal: AbortSignal;
  /** Rows the next batch should hold: the run's batch size (see SourceContext.batchRows), fewer near the limit. */
  batchRows(): number;
  /**
   * A decoder for the next batch of this file, `batchRows()` rows unless told. Every row must go
   * through one: it is what enforces `--limit` (a decoder is full once the limit is reached; hand on
   * what it holds then, and the skeleton stops the read) and reports widenings at this file's lines.
   */
  decoder(rows?: number): RowDecoder;
  /** A row broke the schema: see SourceContext.reject. */
  reject(violation: Violation, location: ErrorLocation): Promise<void>;
  /** Bytes of this file read from disk so far. */
  progress(bytes: number): void;
  /**
   * Read only these bytes of the file (a partition of it, read in a worker thread): from a record
   * boundary to the next one the format found ({@link FileFormat.ranges}), its first record on line
   * `range.firstLine`.
   */
  readonly range?: FileRange;
}

/** A byte range of one file, as a partition of a threaded read gets it. */
export interface FileRange {
  start: number;
  end: number;
  /** The range ends the file: a record it leaves open is the file's error, not a misplaced boundary. */
  last: boolean;
  /** The column names, for a range after the header line (read by the range before). */
  header?: readonly string[];
  /**
   * The physical line the range starts on: the run counts the line breaks of the ranges before
   * (countLines), so that lines in batches, errors, rejects and warnings are the file's, as on one thread.
   */
  firstLine: number;
}

/**
 * A range did not end on a record boundary: the line feed before its end was inside a quoted field, or
 * it ended in a record. What the range read before the record it left open is good (it started on a
 * boundary) and has been handed on; the run reads on from that record (`resumeAt`, on `resumeLine`),
 * joined to the next range.
 */
export class RangeMisaligned extends Error {
  readonly file: string;
  resumeAt: number;
  resumeLine: number;
  constructor(file: string, resumeAt: number, resumeLine = 0) {
    super(`${file}: the range does not end on a record boundary; read on from byte ${resumeAt}`);
    this.file = file;
    this.resumeAt = resumeAt;
    this.resumeLine = resumeLine;
  }
}

export interface FileFormat<P extends FilePlan = FilePlan> {
  /** The source's kind: `csv`, `ndjson`, … */
  readonly kind: string;
  /** Pass over files an earlier committed run finished (`incremental: true`). */
  readonly incremental?: boolean;
  /** `""` is a null, as in CSV, where an empty field is how a null is written; JSON formats say false. @default true */
  readonly emptyIsNull?: boolean;
  /** A CR not followed by a LF ends a line, as in CSV; NDJSON counts line feeds only. @default true */
  readonly crBreaks?: boolean;
  /**
   * The column names of a file and up to `rows` rows of its values as the file gives them (text for
   * CSV, JSON values for NDJSON): what inference and `etl profile` look at.
   */
  sample(file: string, rows: number, signal: AbortSignal): Promise<SourceSample>;
  /** The columns of a run (compiled from the schema, or inferred from a sample of the first file) and its reader. */
  prepare(files: readonly string[], signal: AbortSignal): Promise<P>;
  /** The batches of one file, each from a decoder of `context.decoder()`. Closes the file in `finally`. */
  read(file: string, plan: P, context: FileReadContext): AsyncIterable<Batch>;
  /**
   * Where `file` may be cut into byte ranges read on their own, about `bytes` apart: offsets of record
   * starts (not verified: a range that does not end on a boundary throws RangeMisaligned when read), and
   * the header the ranges after the first read under. Undefined when this plan's reader cannot read ranges.
   */
  ranges?(file: string, plan: P, bytes: number, signal: AbortSignal): Promise<{ offsets: number[]; header?: readonly string[] } | undefined>;
}

/** A part of one file for a threaded read: its byte range, and the file the run's columns were planned from. */
interface FilePart {
  range: FileRange;
  planFrom: string;
  /**
   * Inferred columns the run has widened before this part (in input order), to their dtype: on one
   * thread they would be read widened from there on, so the part reads them so from its start.
   */
  widened?: Record<string, DType>;
}

/**
 * Bytes per part of a threaded read: about a quarter of a worker's share, so that the workers finish
 * together; at least minBytes, so that a part's start-up (its plan, its line count) costs little; at
 * most maxBytes. Tests lower minBytes to cut small files into many parts.
 */
export const partSizing = { minBytes: 4 << 20, maxBytes: 64 << 20 };

/**
 * A source over files (a path, a glob, or a list) of one format. `planned`: this source is a partition
 * of a distributed run of an incremental source; the files, by absolute path, as they were when the run
 * was planned. The run's finalize marks them finished: a file changed since is refused, not read.
 * `part`: a byte range of one file, read by a worker thread of a threaded run.
 */
export function fileSource<R = AnyRow, P extends FilePlan = FilePlan>(path: string | readonly string[], format: FileFormat<P>, planned?: FinishedFiles, part?: FilePart): Source<R> {
  const location = typeof path === 'string' ? path : path.join(', ');
  const prepare = async (signal: AbortSignal, columns: readonly string[] | undefined) => {
    try {
      const files = await expandInputs(path);
      // A part plans its columns as the whole read did, from the same file: inference gives the same columns.
      const plan = await format.prepare(part === undefined ? files : [part.planFrom], signal);
      // One run's widenings and dictionary entries never leak into the next run's. Only the columns the
      // pipeline uses are planned, so a format's reader never decodes the others.
      const plans = projectPlans(plan.plans, columns);
      return { files, totalBytes: await totalSize(files), of: plan.plans.map((column) => column.name), plan: { ...plan, plans: clonePlans(plans) } };
    } catch (error) {
      throw await withLineOf(error);
    }
  };
  return {
    kind: format.kind,
    location,

    async describe(context: DescribeContext): Promise<SourceDescription> {
      const { files, totalBytes, plan, of } = await prepare(context.signal, context.columns);
      for (const warning of plan.warnings ?? []) context.warn(warning);
      return { kind: format.kind, location: files.join(', '), engine: plan.engine, columns: plan.plans, ...(of.length > plan.plans.length ? { columnsOf: of.length } : {}), totalBytes };
    },

    async sample(rows: number, context: Pick<RunContext, 'signal'>): Promise<SourceSample> {
      try {
        const files = await expandInputs(path);
        return await format.sample(files[0], rows, context.signal);
      } catch (error) {
        throw await withLineOf(error);
      }
    },

    // A distributed run reads one file per part. Paths are made absolute: the part is read by a worker
    // whose current folder may differ (on another host, the files must be at the same path). With
    // `incremental`, files an earlier run finished are left out, and the run's finalize marks the
    // parts' files finished, as they are now (see `planned`).
    async partitions(context): Promise<SourcePartition[]> {
      const files = await expandInputs(path);
      if (format.incremental !== true) return files.map((file) => ({ label: file, spec: { files: [resolve(file)] } }));
      if (context.state === undefined) {
        throw new SluiceError('DISTRIBUTED_UNSUPPORTED', `${format.kind}(${JSON.stringify(location)}) with incremental: true needs the pipeline's state to be split across workers.`);
      }
      const { finished, todo, found } = await splitFinished(files, context.state.get<FinishedFiles>(FINISHED_FILES_STATE_KEY) ?? {});
      context.state.set(FINISHED_FILES_STATE_KEY, { ...finished, ...found });
      return todo.map((file) => ({ label: file, spec: { files: [resolve(file)], planned: { [resolve(file)]: found[resolve(file)] } } }));
    },

    partition(spec: unknown): Source<R> {
      const { files, planned: plannedFiles, range, planFrom, widened } = spec as { files?: unknown; planned?: unknown; range?: FileRange; planFrom?: string; widened?: Record<string, DType> };
      if (!Array.isArray(files) || files.some((file) => typeof file !== 'string') || (plannedFiles !== undefined && (typeof plannedFiles !== 'object' || plannedFiles === null))) {
        throw new SluiceError('DISTRIBUTED_PARTITION', `A partition of ${format.kind}(${JSON.stringify(location)}) must be { files: string[], planned?: {…} }; got ${JSON.stringify(spec)}.`);
      }
      const part = range === undefined ? undefined : { range, planFrom: planFrom ?? files[0], widened };
      return fileSource<R, P>(files as string[], format, plannedFiles as FinishedFiles | undefined, part);
    },

    async threadParts(context: ThreadPartsContext): Promise<ThreadParts | undefined> {
      if (format.incremental === true || format.ranges === undefined) return undefined;
      const { files, totalBytes, plan, of } = await prepare(context.signal, context.columns);
      for (const warning of plan.warnings ?? []) context.warn(warning);
      const bytes = Math.min(partSizing.maxBytes, Math.max(partSizing.minBytes, Math.ceil(totalBytes / (context.threads * 4))));
      const parts: ThreadPart[] = [];
      const planFrom = files[0];
      for (const file of files) {
        const size = (await inputIdentity(file)).size;
        const cuts = size > bytes ? await format.ranges(file, plan, bytes, context.signal) : undefined;
        const offsets = [0, ...(cuts?.offsets ?? []), size];
        for (let k = 0; k + 1 < offsets.length; k++) {
          const range: FileRange = { start: offsets[k], end: offsets[k + 1], last: k + 2 === offsets.length, firstLine: k === 0 ? 1 : 0 };
          if (k > 0 && cuts?.header !== undefined) range.header = cuts.header;
          parts.push(filePart(file, range, planFrom, format.crBreaks ?? true));
        }
      }
      return { parts, engine: plan.engine, columnsRead: plan.plans.map((column) => column.name), columnsOf: of, totalBytes };
    },

    async *read(context: SourceContext): AsyncGenerator<Batch<R>> {
      if (part !== undefined) {
        yield* readPart(files0(path), format, part, await prepare(context.signal, context.columns), context);
        return;
      }
      const { files, totalBytes, plan, of } = await prepare(context.signal, context.columns);
      context.engine(plan.engine);
      context.columnsRead(plan.plans.map((column) => column.name), of);
      for (const warning of plan.warnings ?? []) context.warn(warning);
      const limit = new RowLimit(context.limit ?? Infinity);
      // Until a batch has been measured the run sizes batches by rows alone (1,024 at first): rows of
      // 10,000 columns made that a first batch of ten million values. The first batch holds at most
      // FIRST_BATCH_CELLS values, whatever the width; then the run sizes by the bytes it measured.
      const firstRows = Math.max(1, Math.floor(FIRST_BATCH_CELLS / Math.max(1, plan.plans.length)));
      const emptyIsNull = format.emptyIsNull ?? true;
      // A partition's files were chosen, and will be marked finished, by its distributed run.
      const progress = planned !== undefined ? { files, finished: async () => {} } : await unfinishedFiles(files, context, format.incremental);
      let doneBytes = 0;
      let yielded = false;
      for (const file of progress.files) {
        if (limit.left <= 0) break;
        const batchRows = () => Math.max(1, Math.min(context.batchRows(), limit.left, yielded ? Infinity : firstRows));
        const fileContext = readContext(file, plan.plans, context, { limit, emptyIsNull, batchRows, progress: (bytes) => context.progress(doneBytes + bytes, totalBytes) });
        // Cut short by the limit, a file is not finished: marking it would skip its rest next time.
        let whole = true;
        const opened = await inputIdentity(file);
        if (planned !== undefined) checkAsPlanned(file, opened, planned[resolve(file)]);
        try {
          for await (const batch of format.read(file, plan, fileContext)) {
            if (batch.length > 0) {
              yielded = true;
              yield batch as Batch<R>;
            }
            if (limit.left <= 0) {
              whole = false;
              break;
            }
          }
        } catch (error) {
          // A torn last record of a file cut short may not parse at all: then the change is the cause.
          if (!context.signal.aborted) await checkUnchanged(file, opened, error);
          throw await withLineOf(error);
        }
        await checkUnchanged(file, opened);
        if (whole) await progress.finished(file);
        doneBytes += opened.size;
        context.progress(doneBytes, totalBytes);
      }
      const detail = plan.engineDetail?.();
      if (detail !== undefined) context.engine(plan.engine, detail);
      if (!yielded) yield emptyBatch(plan.plans) as Batch<R>;
    },
  };
}

/** A partition's file must be as its run planned it: the run marks it finished as it was then. */
function checkAsPlanned(file: string, now: { size: number; mtimeMs: number }, planned: { size: number; mtimeMs: number } | undefined): void {
  if (planned !== undefined && planned.size === now.size && planned.mtimeMs === now.mtimeMs) return;
  throw new SluiceError(
    'INPUT_CHANGED',
    `${file} changed after its distributed run was planned (${planned === undefined ? 'not planned' : `${planned.size} bytes then, ${now.size} now`}, or a new modification time): the run would mark it finished as it was. Run it again to read the file as it is now.`,
    { file },
  );
}

interface ReadSettings {
  limit: RowLimit;
  emptyIsNull: boolean;
  batchRows(): number;
  progress(bytes: number): void;
}

function readContext(file: string, plans: ColumnPlan[], context: SourceContext, settings: ReadSettings): FileReadContext {
  const { limit, emptyIsNull, batchRows } = settings;
  return {
    file,
    signal: context.signal,
    batchRows,
    decoder: (rows = batchRows()) => new RowDecoder(plans, rows, { warn: (warning) => context.warn(warning), file, limit, emptyIsNull }),
    reject: (violation, where) => context.reject(violation, where),
    progress: settings.progress,
  };
}

function files0(path: string | readonly string[]): string {
  return typeof path === 'string' ? path : path[0];
}

/** A part of a threaded read: `partition(spec)` of the file source reads it. */
function filePart(file: string, range: FileRange, planFrom: string, crBreaks: boolean): ThreadPart {
  return {
    file,
    crBreaks,
    spec: { files: [file], range, planFrom },
    start: range.start,
    end: range.end,
    bytes: range.end - range.start,
    last: range.last,
    joined(next, resumeAt, resumeLine) {
      const nextRange = (next.spec as { range: FileRange }).range;
      const joined: FileRange = { ...range, end: nextRange.end, last: nextRange.last };
      if (resumeAt !== undefined && resumeAt > range.start) {
        // On from the record the range left open: under the header the ranges after the first read under.
        Object.assign(joined, { start: resumeAt, firstLine: resumeLine, header: range.header ?? nextRange.header });
      }
      return filePart(file, joined, planFrom, crBreaks);
    },
  };
}

/**
 * One byte range of one file, in a worker thread. What the skeleton does across files (the change
 * check, finished files, lines of errors that know only their byte offset) the run does, on the main
 * thread, for the whole file; and `--limit` runs on one thread.
 */
async function* readPart<P extends FilePlan>(
  file: string,
  format: FileFormat<P>,
  part: FilePart,
  prepared: { plan: P; of: string[] },
  context: SourceContext,
): AsyncGenerator<Batch<any>> {
  const { plan, of } = prepared;
  for (const column of plan.plans) {
    const dtype = part.widened?.[column.name];
    if (dtype === undefined || column.origin !== 'inferred') continue;
    // As RowDecoder widens a column (decode.ts), before the first row.
    column.dtype = dtype;
    column.dictionary = undefined;
    column.rule = dtype;
  }
  context.engine(plan.engine);
  context.columnsRead(plan.plans.map((column) => column.name), of);
  const limit = new RowLimit(Infinity);
  const emptyIsNull = format.emptyIsNull ?? true;
  const batchRows = () => Math.max(1, context.batchRows());
  const progress = (bytes: number) => context.progress(bytes, part.range.end - part.range.start);
  const fileContext = { ...readContext(file, plan.plans, context, { limit, emptyIsNull, batchRows, progress }), range: part.range };
  let yielded = false;
  for await (const batch of format.read(file, plan, fileContext)) {
    if (batch.length === 0) continue;
    yielded = true;
    yield batch;
  }
  if (!yielded) yield emptyBatch(plan.plans);
  const detail = plan.engineDetail?.();
  if (detail !== undefined) context.engine(plan.engine, detail);
}

/**
 * The columns the pipeline uses, in the input's order (all of them when it uses every one). A pipeline
 * that uses none (`groupBy([], { n: count() })`) keeps the first: a reader counts rows by what it decodes.
 */
export function projectPlans<P extends { name: string }>(plans: P[], columns: readonly string[] | undefined): P[] {
  if (columns === undefined) return plans;
  const wanted = new Set(columns);
  const projected = plans.filter((plan) => wanted.has(plan.name));
  return projected.length > 0 || plans.length === 0 ? projected : plans.slice(0, 1);
}
