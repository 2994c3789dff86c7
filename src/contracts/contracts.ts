/**
 * The contracts between a run and the code it runs: a source yields batches, a stage maps batches to
 * batches, a sink writes them. This file is all a connector or stage author needs besides the batch API.
 */
import type { AnyRow, Batch } from '../batch/batch.ts';
import type { DType } from '../batch/dtype.ts';
import type { ErrorLocation } from '../core/errors.ts';
import type { RunWarning } from '../core/warnings.ts';
import type { Violation } from '../schema/decode.ts';
import type { ColumnPlan } from '../schema/plan.ts';
import type { ColumnUse } from './columns.ts';

export type { RunWarning, WarningCode } from '../core/warnings.ts';

/** What every source, stage and sink is handed for one run. */
export interface RunContext {
  pipeline: string;
  signal: AbortSignal;
  /**
   * A warning for the run summary, as data: a stable code, the facts, and a message for people
   * (`{ code: 'USER', message: '…' }` from user code). The same message twice is kept once.
   */
  warn(warning: RunWarning): void;
  /**
   * Incremental state (watermarks, finished files) when the run has a state store (`etl run`,
   * `etl schedule`, or `RunOptions.state`): what the last committed run left, and what this run commits
   * with the sink's output.
   */
  state?: IncrementalState;
}

/**
 * Values a source keeps from one run to the next. `get` returns what the last successful run committed;
 * `set` stages a value that is saved only once the sink has committed (with a PostgreSQL sink and state
 * store on the same database, inside the sink's own transaction).
 */
export interface IncrementalState {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
}

/** A sink's open transaction, handed to {@link SinkContext.beforeCommit}. */
export interface SinkTransaction {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface StageContext extends RunContext {
  /** The stage's name in the summary. */
  stage: string;
  /**
   * Memory the stage keeps between batches (a hash table, a sort buffer, batches it holds on purpose),
   * reserved from the run's budget like batches are. See {@link StageMemory}.
   */
  memory: StageMemory;
  /**
   * A private folder for the stage's spill files (mode 0700, under the pipeline's `tempDir`, else
   * `SLUICE_TEMP_DIR`, else the OS temp folder), made on the first call (later calls return the same path) and removed with
   * everything in it when the run ends, also when it fails.
   *
   * @example
   * const file = join(await context.tempDir(), `run-${runs++}.bin`);
   * await writeFile(file, encodeRun(sorted)); // read back, merged, when the input ends
   */
  tempDir(): Promise<string>;
  /**
   * Figures of a stage that holds state, for the summary and `--report` (`stages[]`): groups held,
   * bytes and partitions spilled, time spent spilling. Each call sets the fields it names.
   */
  report?(figures: StageFigures): void;
  /**
   * Reads another source for the stage (a join's other side) as the run reads its own: batches sized
   * to the budget, rows that break its schema rejected to the run's reject output (or failing the run),
   * its rows counted in the summary under the stage (`stages[].sideSource`). Each batch is reserved
   * from the budget before it is handed over and given back when the stage asks for the next one (or
   * stops reading): copy what you keep, and reserve that through `memory`. `columns`: the only columns
   * the stage uses (projection push-down on the other side, as `SourceContext.columns`); every column
   * when undefined.
   */
  readSource(source: Source<any>, columns?: readonly string[]): AsyncIterable<Batch<any>>;
}

/** See {@link StageContext.report}. */
export interface StageFigures {
  /** Groups (or rows) the stage held in memory at most. */
  peakGroups?: number;
  /** Groups (or rows) it output. */
  groups?: number;
  /** Rows of a join's build side (the other source) that it kept: rows with no null key. */
  buildRows?: number;
  spilledBytes?: number;
  spilledPartitions?: number;
  /** Rows a sort held in memory at most, and sorted runs it wrote (merge passes included). */
  peakRows?: number;
  spilledRuns?: number;
  spillMs?: number;
}

/**
 * A stage's reservations from the run's memory budget, for data it keeps between batches. They count in
 * "reserved ≤ budget" with the batches in flight, show in the summary (`stages[].peakStateBytes`), and are
 * given back when the stage ends, also on an error. The batches a stage takes in are accounted by the run:
 * one the stage passes on (or yields a batch made from) keeps its reservation until the sink has written
 * it; one it neither passes on nor keeps gives its bytes back when the stage asks for its next input.
 *
 * @example
 * // A stage that keeps state while it fits and spills when the budget says no.
 * async function* countByKey(input, { memory, tempDir }) {
 *   for await (const batch of input) {
 *     const grown = table.add(batch); // bytes the table grew by
 *     if (!memory.tryReserve(grown)) {
 *       await table.spillTo(await tempDir());
 *       memory.release(memory.held);
 *     }
 *   }
 *   yield table.result();
 * }
 */
export interface StageMemory {
  /** Waits until `bytes` fit in the budget, then reserves them. Rejects when the run stops (its signal). */
  reserve(bytes: number): Promise<void>;
  /** Reserves `bytes` if they fit now and returns true; false (nothing reserved) if not: then spill. */
  tryReserve(bytes: number): boolean;
  /** Gives back bytes reserved with `reserve` or `tryReserve` (at most what is held). */
  release(bytes: number): void;
  /** Bytes reserved this way and not given back. */
  readonly held: number;
  /**
   * Keeps the reservation of an input batch the stage holds on to, to pass it on (or a batch marked as
   * made from it, see `markDerived`) later: instead of being given back when the stage asks for its next
   * input, it moves on with that output (or is given back when the stage ends). Call it before asking
   * for the next input. For batches kept a while (mapBatches' calls in flight): the budget stops the
   * source when it is spent, and a run whose stage keeps every batch fails with NO_PROGRESS naming it.
   */
  keep(batch: Batch<any>): void;
}

/** A stage: an async generator from batches to batches. `(input, ctx) => AsyncIterable<Batch<Out>>`. */
export type Stage<In = AnyRow, Out = AnyRow> = ((input: AsyncIterable<Batch<In>>, context: StageContext) => AsyncIterable<Batch<Out>>) & {
  stageName?: string;
  /** What the stage does, in a few words, for `--dry-run` (e.g. a group-by's keys). */
  stageDetail?: string;
  /**
   * Which input columns the stage reads and what it does with the rest, for projection push-down
   * (columns.ts: `passesOn(reads, makes)`, `replacesRows(reads)`). Undefined: it may read any column,
   * and the push-down stops here.
   */
  columns?: ColumnUse;
  /**
   * Checks the stage against its input's columns before any row is read (and in `--dry-run`): `input`
   * holds the dtypes of the input columns known from the source's plan (its schema, or what it infers
   * from a sample) through the stages before it; columns a stage before made or replaced are not in it.
   * Throws a SluiceError naming what does not fit (and `stage`, the stage's name in the run).
   */
  planCheck?: (input: ReadonlyMap<string, DType>, context: RunContext, stage: string) => Promise<void>;
  /**
   * Each batch out depends on one batch in and nothing else (no state across batches, no order, no
   * side effect the main thread must see): a threaded run may run the stage in its worker threads, on
   * each part of the input. filter, derive, map, select and rename are; `mapBatches(fn, { threadSafe: true })` says so.
   */
  rowWise?: boolean;
};

/** What a source is given by the run. */
export interface SourceContext extends RunContext {
  /** Rows the next batch should hold: adapts to the memory budget and the measured bytes per row. */
  batchRows(): number;
  /**
   * `--limit`: the rows to read from the input, counting rows handed on and rows rejected alike. A
   * source reads, rejects and counts nothing past them (a row after the limit is never decoded, so it
   * is neither in a batch nor in the rejects), and stops. File sources get this from the file-source
   * skeleton (connectors/files/file-source.ts); a source decoding through RowDecoder gets it by
   * sharing one `RowLimit` between its decoders.
   */
  limit?: number;
  /**
   * A row broke the schema. Throws (the run fails) unless the pipeline has a reject output with room
   * left; then the row is written there and counted.
   */
  reject(violation: Violation, location: ErrorLocation): Promise<void>;
  /** Bytes of input consumed so far, and the total when known (for progress and MB/s). */
  progress(bytesRead: number, totalBytes?: number): void;
  /** Which reader ran, and how it went (e.g. the share of records on its fast path), for the summary. */
  engine(name: string, detail?: string): void;
  /**
   * The columns the pipeline uses, from the sink back through the stages (projection push-down):
   * read, decode and select only these; undefined when every column is used. A name the source does
   * not have is passed over (the stage that reads it fails on the batch, as without the push-down).
   */
  columns?: readonly string[];
  /**
   * The columns the source reads, of `all` it would read without the push-down: for the summary
   * ("columns read 2 of 10"), and so that a column the pipeline uses and the input does not have fails
   * the run here, naming the stage and the input's columns (throws SluiceError STAGE_FAILED).
   */
  columnsRead(read: readonly string[], all: readonly string[]): void;
}

/** What `describe` is handed: the run's context and the columns the pipeline uses (see SourceContext.columns). */
export interface DescribeContext extends RunContext {
  columns?: readonly string[];
}

/** A plan of the source for `--dry-run` and the summary. */
export interface SourceDescription {
  kind: string;
  /** Files, query, … as people should see them (no credentials). */
  location: string;
  engine?: string;
  /** The columns it will read (only those the pipeline uses, when told: DescribeContext.columns). */
  columns?: ColumnPlan[];
  /** Columns it would read without the push-down, when `columns` are fewer. */
  columnsOf?: number;
  totalBytes?: number;
  notes?: string[];
}

/** Rows of an input as it gives them, before any typing: what inference and `etl profile` look at. */
export interface SourceSample {
  /** Column names, in the input's order. */
  names: string[];
  /** Up to the rows asked for, each one value per name: text (CSV), JSON values (NDJSON), … */
  rows: unknown[][];
}

/**
 * One part of a source's input, for a run split across workers (`etl run --distributed`): a file of a
 * glob, a key range of a table. `spec` is plain JSON, as it travels in a queued job to another process
 * (maybe on another host), where {@link Source.partition} turns it back into a source.
 */
export interface ThreadPartsContext extends Pick<RunContext, 'signal' | 'warn'> {
  /** Worker threads that will read the parts. */
  threads: number;
  /** The columns the pipeline uses (SourceContext.columns). */
  columns?: readonly string[];
}

/** See {@link Source.threadParts}. */
export interface ThreadParts {
  parts: ThreadPart[];
  /** The reader, for the summary (SourceContext.engine). */
  engine: string;
  /** The columns read, of all the input has (SourceContext.columnsRead). */
  columnsRead: readonly string[];
  columnsOf: readonly string[];
  totalBytes: number;
}

export interface ThreadPart {
  /** The file the part is of. */
  file: string;
  /**
   * For `partition(spec)`: structured-cloneable. `spec.range.firstLine` is the line the part starts
   * on, 0 until the run has counted the lines of the parts before it (see countLines).
   */
  spec: unknown;
  /** Byte range in the file, for counting its lines. */
  start: number;
  end: number;
  /** A CR not followed by a LF is a line break (CSV), or not (NDJSON counts line feeds). */
  crBreaks: boolean;
  /** Bytes of input in the part. */
  bytes: number;
  /** The part ends its file. */
  last: boolean;
  /**
   * This part's end was no record boundary: the part that reads on from the record it left open
   * (`resumeAt`, on `resumeLine`; from the part's own start when not given) to the next part's end.
   */
  joined?(next: ThreadPart, resumeAt?: number, resumeLine?: number): ThreadPart;
}

export interface SourcePartition {
  /** For people: `data/orders-3.csv`, `id in [1000, 2000)`. */
  label: string;
  spec: unknown;
}

export interface Source<R = AnyRow> {
  readonly kind: string;
  /** Files, table or query as people should see them (no credentials). */
  readonly location: string;
  /** Plan and schema without reading data beyond a sample (may read a sample to infer). */
  describe(context: DescribeContext): Promise<SourceDescription>;
  /** The batches. Must close whatever it opened in `finally`, also when the consumer stops early. */
  read(context: SourceContext): AsyncIterable<Batch<R>>;
  /**
   * The first `rows` rows as the input gives them (the sample the source infers types from), for
   * `etl profile`. Optional: sources that cannot sample cheaply leave it out.
   */
  sample?(rows: number, context: Pick<RunContext, 'signal'>): Promise<SourceSample>;
  /**
   * The independent parts of the input, in order, for a distributed run. Optional: a source without it
   * cannot be split across workers. Every row of the input is in exactly one part. `state` is the
   * pipeline's committed incremental state: an incremental source plans from it, and what it `set`s is
   * what the run commits once, in its finalize, when every part has committed (the parts themselves
   * run without state).
   */
  partitions?(context: Pick<RunContext, 'signal' | 'state'>): Promise<SourcePartition[]>;
  /** The source restricted to one part that {@link partitions} planned (maybe in another process). */
  partition?(spec: unknown): Source<R>;
  /**
   * The input split for a read by worker threads: parts small enough to share out (byte ranges of a
   * file, the files of a glob), in input order, each read by `partition(spec)` in a worker that loaded
   * the same pipeline. Undefined when this input cannot be split (a compressed file is one part, not none).
   */
  threadParts?(context: ThreadPartsContext): Promise<ThreadParts | undefined>;
  /** Row type carrier; never set at run time. */
  readonly __row?: R;
}

export interface SinkContext extends RunContext {
  /** True when nothing may be written (`--dry-run`). */
  dryRun: boolean;
  /**
   * A transactional sink calls this inside its transaction, after the last batch and just before
   * COMMIT, so the run's incremental state commits in the same transaction as the data (when the state
   * store is on the same database; otherwise the run saves the state right after the sink returns).
   * Absent when there is nothing to commit with the data.
   */
  beforeCommit?(transaction: SinkTransaction): Promise<void>;
  /**
   * Other writes into the same output go on at once, each in a transaction of its own (the partitions
   * of a distributed run): what they share, such as a table a sink creates, must be made outside the
   * write's transaction, so that no write waits for another's commit.
   */
  sharedOutput?: boolean;
}

export interface SinkResult {
  rowsWritten: number;
  /** Where the output went, for the summary. */
  location: string;
  bytesWritten?: number;
  /** How it wrote, for the summary, e.g. `binary COPY`. */
  engine?: string;
}

export interface Sink<R = AnyRow> {
  readonly kind: string;
  describe(): { kind: string; location: string; notes?: string[] };
  /**
   * Writes every batch of `input`, one at a time, before asking for the next. Commits the output only
   * when the input ends normally; on error or abort leaves nothing that looks complete.
   */
  write(input: AsyncIterable<Batch<R>>, context: SinkContext): Promise<SinkResult>;
  /**
   * For a distributed run (each partition written by its own call of `write`, maybe at once on other
   * hosts): `undefined` when every such write commits in one transaction of its own and calls
   * `beforeCommit` in it, so that a partition is written exactly once; else why not, for the error.
   * Absent: the sink cannot be written by a distributed run.
   */
  distributedWrites?(): string | undefined;
  /**
   * For a distributed run whose rows must become visible all at once rather than partition by
   * partition (a replace): the sink each partition writes through (aside, e.g. into a staging table of
   * the run) and what the run's finalize does with that. Absent or undefined: partitions write through
   * this sink, and each one's commit makes its rows visible.
   */
  forDistributedRun?(runId: string): DistributedRunSink<R> | undefined;
  readonly __row?: R;
}

/** See {@link Sink.forDistributedRun}. */
export interface DistributedRunSink<R = AnyRow> {
  /** The sink of each partition: it writes aside, committing in its own transaction as sinks do. */
  partition: Sink<R>;
  /**
   * In finalize's transaction, on the queue's database, once every partition has committed: makes
   * the run's rows visible, at once (the transaction also ends the run's record).
   */
  publish(transaction: SinkTransaction): Promise<void>;
  /** The run failed: removes what its partitions wrote aside, leaving the output as it was before the run. */
  discard(transaction: SinkTransaction): Promise<void>;
}

