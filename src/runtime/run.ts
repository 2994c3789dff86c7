import pLimit from 'p-limit';
import type { Batch } from '../batch/batch.ts';
import { estimateStringBytes, fixedWidth } from '../batch/dtype.ts';
import { type ErrorLocation, SluiceError, isSluiceError } from '../core/errors.ts';
import type { IncrementalState, RunContext, SinkContext, SinkTransaction, SourceContext, Stage, StageContext } from '../contracts/contracts.ts';
import type { Pipeline } from './pipeline.ts';
import { Rejects } from './rejects.ts';
import type { RunSummary, StageSummary } from './summary.ts';
import { checkBudget, MemoryBudget } from './budget.ts';
import { formatBytes, parseBytes } from '../core/bytes.ts';
import { parentOf } from '../contracts/lineage.ts';
import { MemoryWatch } from './memory-watch.ts';
import type { Violation } from '../schema/decode.ts';

export interface ProgressEvent {
  pipeline: string;
  rowsRead: number;
  bytesRead: number;
  totalBytes?: number;
  elapsedMs: number;
}

export interface RunOptions {
  /** Memory budget for all pipelines of this call, e.g. '256MB'. Defaults to the pipeline's own, else 256MB. */
  memory?: string | number;
  /** Pipelines run at once. @default 2 */
  concurrency?: number;
  /** Stop each source after this many rows. */
  limit?: number;
  /** Read and transform, write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** Warnings as they happen (the summary lists them too). */
  onWarning?: (pipeline: string, message: string) => void;
  /** Share a budget across calls (the scheduler of many pipelines does). */
  budget?: MemoryBudget;
  /** Incremental state of the (single) pipeline: `etl run` and `etl schedule` pass the pipeline's state store. */
  state?: RunStateStore;
}

/** Where `run()` loads and saves a pipeline's incremental state (see `RunContext.state`). */
export interface RunStateStore {
  /** What the last committed run left. */
  readonly committed: Readonly<Record<string, unknown>>;
  /** Inside the sink's transaction, before COMMIT: saves `state` there and returns true, or false when it cannot (another database). */
  saveIn(transaction: SinkTransaction, state: Record<string, unknown>): Promise<boolean>;
  /** After the sink has committed, when `saveIn` did not save it. */
  save(state: Record<string, unknown>): Promise<void>;
}

const DEFAULT_MEMORY = 256 * 1024 * 1024;
// Under 16_380: V8 allocates a JS array of more elements (a string column) in large-object space, where
// creating it costs ~1 ms and every store of a new string into it takes a write-barrier slow path; at
// 16_384 rows that was ~18% of the CSV reader's time per batch (measured for issue 3).
export const DEFAULT_BATCH_ROWS = 16_000;
// Rows wider than a batch's share of the budget go one per batch rather than overflow it.
const MIN_BATCH_ROWS = 1;
/**
 * Rows of the first batch, before bytes per row are measured: small, so that a file of very wide rows
 * does not build one huge batch before the budget has a say. Later batches grow to `batchRows`.
 */
const FIRST_BATCH_ROWS = 1024;
/** Batches of one pipeline the budget should fit at once: source, stages and sink each holding one, and slack. */
export const BATCHES_IN_FLIGHT = 8;
// Pipelines running under each budget: they share it, so each one's batches are sized to its share.
const activeRuns = new WeakMap<MemoryBudget, number>();

/**
 * Runs one pipeline, or many with bounded concurrency under one memory budget. Resolves with the
 * summary of each run; a failed run's summary has `status: 'failed'` and its error (it does not throw,
 * so one pipeline's failure does not hide the others'). Use `runOrThrow` for one pipeline that should throw.
 */
export async function run(pipelines: Pipeline<any>, options?: RunOptions): Promise<RunSummary>;
export async function run(pipelines: readonly Pipeline<any>[], options?: RunOptions): Promise<RunSummary[]>;
export async function run(
  pipelines: Pipeline<any> | readonly Pipeline<any>[],
  options: RunOptions = {},
): Promise<RunSummary | RunSummary[]> {
  const list = Array.isArray(pipelines) ? pipelines : [pipelines as Pipeline<any>];
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new SluiceError('INVALID_OPTION', `Expected \`concurrency\` to be a number from 1 and up; got ${concurrency}.`);
  }
  const limit = options.memory !== undefined ? parseBytes(options.memory) : list.length === 1 && list[0].memory !== undefined ? parseBytes(list[0].memory, 'memory') : DEFAULT_MEMORY;
  const budget = options.budget ?? new MemoryBudget(limit);
  checkBudget(budget.limit);
  const watch = new MemoryWatch(budget.limit, (pressure) => budget.setPressure(pressure)).start();
  try {
    const runLimit = pLimit(concurrency);
    const summaries = await Promise.all(list.map((pipeline) => runLimit(() => runOne(pipeline, options, budget, watch))));
    return Array.isArray(pipelines) ? summaries : summaries[0];
  } finally {
    watch.stop();
  }
}

/** Runs one pipeline and throws its error if it fails. */
export async function runOrThrow(pipeline: Pipeline<any>, options: RunOptions = {}): Promise<RunSummary> {
  const summary = await run(pipeline, options);
  if (summary.status === 'failed') throw (summary as RunSummaryWithError).cause ?? new Error(summary.error?.message);
  return summary;
}

type RunSummaryWithError = RunSummary & { cause?: unknown };

// Which reservation each batch carries: bytes reserved from the budget for the source batch(es) it came from.
const reservations = new WeakMap<object, number>();

async function runOne(pipeline: Pipeline<any>, options: RunOptions, budget: MemoryBudget, watch: MemoryWatch): Promise<RunSummary> {
  const name = pipeline.name ?? 'pipeline';
  const startedAt = new Date();
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(options.signal!.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) controller.abort(options.signal.reason);
  const signal = controller.signal;
  const warnings: string[] = [];
  const warn = (message: string) => {
    if (!warnings.includes(message)) {
      warnings.push(message);
      options.onWarning?.(name, message);
    }
  };
  const incremental = incrementalState(options.state);
  const base: RunContext = { pipeline: name, signal, warn, state: incremental?.state };
  const rejects = new Rejects(pipeline.rejects, name);
  const startPeaks = watch.peaks();
  const stageNames = uniqueStageNames(pipeline.stages);
  const stageStats: StageSummary[] = stageNames.map((stageName) => ({ name: stageName, rowsIn: 0, rowsOut: 0, peakBytesHeld: 0 }));
  const held = new Map<string, number>(stageNames.map((stageName) => [stageName, 0]));
  held.set('sink', 0);
  let heldAtPeak: Record<string, number> = {};
  let lastPeak = 0;
  const state = {
    engine: undefined as string | undefined,
    engineDetail: undefined as string | undefined,
    bytesRead: 0,
    totalBytes: undefined as number | undefined,
    rowsSourced: 0,
    batchCount: 0,
    columnarBytes: 0,
    objectBytes: 0,
    reservedByRun: 0,
    bytesPerRow: 0,
    rowsPerBatch: pipeline.batchRows ?? Math.min(FIRST_BATCH_ROWS, DEFAULT_BATCH_ROWS),
  };
  const maxRows = pipeline.batchRows ?? DEFAULT_BATCH_ROWS;
  activeRuns.set(budget, (activeRuns.get(budget) ?? 0) + 1);
  /** Bytes one batch of this run may take: its share of the budget, less under memory pressure. */
  const batchShare = () => {
    const sharing = Math.max(1, activeRuns.get(budget) ?? 1);
    return budget.limit / (BATCHES_IN_FLIGHT * sharing * (budget.underPressure ? 4 : 1));
  };
  const notePeak = () => {
    if (budget.reserved >= lastPeak) {
      lastPeak = budget.reserved;
      heldAtPeak = Object.fromEntries(held);
    }
  };
  const reserve = async (bytes: number) => {
    await budget.reserve(bytes, signal);
    state.reservedByRun += bytes;
    notePeak();
  };
  const release = (bytes: number) => {
    if (bytes <= 0) return;
    state.reservedByRun -= bytes;
    budget.release(bytes);
    watch.released(bytes);
  };

  const sourceContext: SourceContext = {
    ...base,
    limit: options.limit,
    batchRows() {
      if (state.bytesPerRow > 0) {
        state.rowsPerBatch = Math.max(MIN_BATCH_ROWS, Math.min(maxRows, Math.floor(batchShare() / state.bytesPerRow)));
      }
      return state.rowsPerBatch;
    },
    reject: (violation: Violation, location: ErrorLocation) => rejects.reject(violation, { ...location, pipeline: name }),
    progress(bytesRead, totalBytes) {
      state.bytesRead = bytesRead;
      state.totalBytes = totalBytes;
      options.onProgress?.({
        pipeline: name,
        rowsRead: state.rowsSourced + rejects.count,
        bytesRead,
        totalBytes,
        elapsedMs: Date.now() - startedAt.getTime(),
      });
    },
    engine(engineName, detail) {
      state.engine = engineName;
      state.engineDetail = detail;
    },
  };

  async function* metered(): AsyncGenerator<Batch> {
    for await (const sourced of pipeline.source.read(sourceContext)) {
      const sourcedBytes = sourced.byteSize;
      if (sourced.length > 0) {
        const perRow = sourcedBytes / sourced.length;
        state.bytesPerRow = state.bytesPerRow === 0 ? perRow : 0.7 * state.bytesPerRow + 0.3 * perRow;
      }
      // A batch larger than the whole budget (rows wider than measured so far) goes on in pieces that
      // fit, so "reserved ≤ budget" holds; a single row larger than the budget cannot, and fails here.
      const pieces = sourcedBytes > budget.limit ? splitToFit(sourced, budget.limit, batchShare(), name) : [sourced];
      for (const batch of pieces) {
        const bytes = pieces.length === 1 ? sourcedBytes : batch.byteSize;
        await reserve(bytes);
        reservations.set(batch, bytes);
        state.rowsSourced += batch.length;
        state.batchCount++;
        state.columnarBytes += bytes;
        state.objectBytes += batch.objectBytes();
        yield batch;
      }
    }
  }

  let stream: AsyncIterable<Batch> = metered();
  pipeline.stages.forEach((stage, k) => {
    stream = meterStage(stage, stageNames[k], stream, { ...base, stage: stageNames[k] }, stageStats[k], held, notePeak);
  });
  const sinkInput = meterSink(stream, release, held);
  const sinkContext: SinkContext = { ...base, dryRun: options.dryRun === true };
  if (incremental !== undefined && options.dryRun !== true) sinkContext.beforeCommit = incremental.beforeCommit;

  const stallTimeout = pipeline.stallTimeoutMs ?? 60_000;
  const stallTimer = setInterval(() => {
    if (budget.waiting > 0 && budget.idleFor > stallTimeout && state.reservedByRun > 0) {
      const [holder, bytes] = [...held].sort((a, b) => b[1] - a[1])[0] ?? ['unknown', 0];
      controller.abort(
        new SluiceError(
          'NO_PROGRESS',
          `No progress for ${Math.round(stallTimeout / 1000)}s while the memory budget is spent: stage ${holder} holds ${bytes} bytes of batches it has not passed on.`,
          { stage: holder, pipeline: name },
        ),
      );
    }
  }, Math.min(1000, Math.max(10, stallTimeout / 4)));
  // Not unref'd: while a run waits on itself (a stage holding every batch), this timer is what keeps the
  // process alive long enough to fail with NO_PROGRESS instead of exiting with the run unsettled.

  let error: unknown;
  let written = 0;
  let location = pipeline.sink.describe().location;
  try {
    const result = await pipeline.sink.write(sinkInput, sinkContext);
    written = result.rowsWritten;
    location = result.location;
    signal.throwIfAborted();
    if (options.dryRun !== true) await incremental?.afterCommit();
  } catch (caught) {
    error = signal.aborted && isSluiceError(signal.reason) ? signal.reason : caught;
    if (signal.aborted && !isSluiceError(error)) {
      error = new SluiceError('ABORTED', `Run of ${name} was stopped.`, { pipeline: name, cause: error });
    }
  } finally {
    clearInterval(stallTimer);
    activeRuns.set(budget, (activeRuns.get(budget) ?? 1) - 1);
    // The run is over: a source or a stage's helper still waiting for memory must stop waiting, and
    // take nothing more from a budget other pipelines may share.
    if (!signal.aborted) controller.abort(new SluiceError('ABORTED', `Run of ${name} ended.`, { pipeline: name }));
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (state.reservedByRun > 0) release(state.reservedByRun);
    try {
      await rejects.close();
    } catch (closeError) {
      error ??= closeError;
    }
  }

  const endedAt = new Date();
  const peaks = watch.peaks();
  const elapsedMs = endedAt.getTime() - startedAt.getTime();
  const read = state.rowsSourced + rejects.count;
  const dropped = stageStats.reduce((sum, stage) => sum + Math.max(0, stage.rowsIn - stage.rowsOut - (stage.rowsInFlight ?? 0)), 0);
  const sourceDescription = {
    kind: pipeline.source.kind,
    location: pipeline.source.location,
    engine: state.engine,
    ...(state.engineDetail === undefined ? {} : { engineDetail: state.engineDetail }),
  };
  const summary: RunSummary & { cause?: unknown } = {
    pipeline: name,
    status: error === undefined ? 'succeeded' : 'failed',
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    elapsedMs,
    source: sourceDescription,
    sink: { kind: pipeline.sink.kind, location },
    rows: {
      read,
      written,
      dropped,
      rejected: rejects.count,
      ...(error === undefined ? {} : { inFlight: Math.max(0, read - written - dropped - rejects.count) }),
    },
    stages: stageStats,
    input: { bytesRead: state.bytesRead, totalBytes: state.totalBytes },
    rowsPerSecond: elapsedMs > 0 ? Math.round((read / elapsedMs) * 1000) : 0,
    megabytesPerSecond: elapsedMs > 0 ? Number(((state.bytesRead / 1048576 / elapsedMs) * 1000).toFixed(1)) : 0,
    memory: {
      budget: budget.limit,
      peakReserved: budget.peakReserved,
      baselineRss: startPeaks.baselineRss,
      peakRss: peaks.peakRss,
      peakHeapUsed: peaks.peakHeapUsed,
      peakArrayBuffers: peaks.peakArrayBuffers,
      pressureEvents: peaks.pressureEvents - startPeaks.pressureEvents,
      collections: peaks.collections - startPeaks.collections,
      heldAtPeak,
    },
    batches: {
      count: state.batchCount,
      columnarBytes: state.columnarBytes,
      objectBytes: state.objectBytes,
      savingRatio: state.columnarBytes > 0 ? Number((state.objectBytes / state.columnarBytes).toFixed(2)) : 0,
      rowsPerBatch: state.rowsPerBatch,
    },
    rejectsPath: rejects.count > 0 ? rejects.path : undefined,
    warnings,
    dryRun: options.dryRun === true,
  };
  if (summary.memory.pressureEvents > 0) {
    warnings.push(`the process went above its memory budget ${summary.memory.pressureEvents} time(s); sources paused and batches shrank until it was back under`);
  }
  if (error !== undefined) {
    const sluiceError = isSluiceError(error)
      ? error
      : new SluiceError('STAGE_FAILED', error instanceof Error ? error.message : String(error), { pipeline: name, cause: error });
    summary.error = { ...sluiceError.toJSON(), code: sluiceError.code, message: sluiceError.message } as RunSummary['error'];
    Object.defineProperty(summary, 'cause', { value: sluiceError, enumerable: false });
  }
  return summary;
}

/**
 * The run's view of its incremental state: values set during the run are saved only after the sink
 * commits (in its transaction when it calls `beforeCommit`, else just after it returns).
 */
function incrementalState(store: RunStateStore | undefined) {
  if (store === undefined) return undefined;
  const pending: Record<string, unknown> = { ...store.committed };
  let changed = false;
  let saved = false;
  const state: IncrementalState = {
    get: <T>(key: string) => store.committed[key] as T | undefined,
    set(key, value) {
      pending[key] = value;
      changed = true;
    },
  };
  return {
    state,
    async beforeCommit(transaction: SinkTransaction) {
      if (changed) saved = await store.saveIn(transaction, pending);
    },
    async afterCommit() {
      if (changed && !saved) await store.save(pending);
    },
  };
}

function uniqueStageNames(stages: readonly Stage<any, any>[]): string[] {
  const seen = new Map<string, number>();
  return stages.map((stage) => {
    const base = stage.stageName ?? (stage.name || 'stage');
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}#${count}`;
  });
}

/**
 * Wraps a stage to count rows and move reservations: bytes of the batches a stage takes in are "held"
 * by it until it yields, then ride on the batch it yields, so a batch's bytes are given back only once
 * the sink has written what was made from them. A stage that drops every row of a batch keeps holding
 * those bytes until it next yields (a bound, not a leak); one that buffers batches shows up as holding them.
 */
async function* meterStage(
  stage: Stage<any, any>,
  name: string,
  input: AsyncIterable<Batch>,
  context: StageContext,
  stats: StageSummary,
  held: Map<string, number>,
  notePeak: () => void,
): AsyncGenerator<Batch> {
  let pending = 0;
  // Rows taken in since the stage last yielded: in flight, not dropped, if the run stops now.
  let pendingRows = 0;
  // Reservations of the batches taken in and not passed on, in intake order. An array emptied in place,
  // not a Map: Map.clear() (and the rehash when a Map grows or shrinks) leaves the old hash table pointing
  // at its successor, its entries still in it. Once a full GC has moved the Map's table to the old
  // generation, the table retired at the next batch is garbage only the next full GC can see, but until
  // then it keeps its successor and the batches listed in it alive through every scavenge; they are
  // promoted, and so is the table after them: from the run's first full GC on, every batch went to the
  // old generation and RSS rose by ~50 MB for the rest of the run (issue 4).
  const taken: { batch: Batch; bytes: number }[] = [];
  async function* intake(): AsyncGenerator<Batch> {
    for await (const batch of input) {
      const bytes = reservations.get(batch) ?? 0;
      reservations.delete(batch);
      pending += bytes;
      const known = taken.find((entry) => entry.batch === batch);
      if (known === undefined) taken.push({ batch, bytes });
      else known.bytes += bytes;
      held.set(name, pending);
      if (pending > stats.peakBytesHeld) stats.peakBytesHeld = pending;
      notePeak();
      stats.rowsIn += batch.length;
      pendingRows += batch.length;
      yield batch;
    }
  }
  try {
    for await (const output of stage(intake(), context)) {
      stats.rowsOut += output.length;
      pendingRows = 0;
      // By default an output carries every reservation the stage holds. When the stage says which
      // input it was made from (mapBatches), or passes an input on as is, it carries that input's and
      // those of older inputs (dropped, since a later one made it out), and the rest stay held.
      const from = parentOf(output) ?? output;
      let carried = 0;
      const index = taken.findIndex((entry) => entry.batch === from);
      if (index >= 0) {
        for (let k = 0; k <= index; k++) carried += taken[k].bytes;
        taken.splice(0, index + 1);
      } else {
        carried = pending;
        taken.length = 0;
      }
      pending -= carried;
      reservations.set(output, (reservations.get(output) ?? 0) + carried);
      held.set(name, pending);
      yield output;
    }
    pendingRows = 0; // the input ended and the stage is done: what it did not pass on, it dropped
  } catch (error) {
    if (isSluiceError(error) || context.signal.aborted) throw error;
    throw new SluiceError('STAGE_FAILED', `stage ${name} failed: ${error instanceof Error ? error.message : String(error)}`, {
      stage: name,
      pipeline: context.pipeline,
      cause: error,
    });
  } finally {
    stats.rowsInFlight = pendingRows;
    held.set(name, 0);
  }
}

/** Gives a batch's bytes back when the sink asks for the next one: it has written this one by then. */
async function* meterSink(input: AsyncIterable<Batch>, release: (bytes: number) => void, held: Map<string, number>): AsyncGenerator<Batch> {
  for await (const batch of input) {
    const bytes = reservations.get(batch) ?? 0;
    reservations.delete(batch);
    held.set('sink', bytes);
    try {
      yield batch;
    } finally {
      held.set('sink', 0);
      release(bytes);
    }
  }
}

/**
 * Splits a batch larger than the budget into batches of about `share` bytes each. Fails with
 * RECORD_EXCEEDS_BUDGET, naming where the record is, when one row alone is larger than the budget.
 */
function splitToFit(batch: Batch, limit: number, share: number, pipeline: string): Batch[] {
  const sizes = rowBytes(batch);
  let largest = 0;
  for (let i = 1; i < batch.length; i++) if (sizes[i] > sizes[largest]) largest = i;
  if (batch.length === 0 || sizes[largest] > limit) {
    const line = batch.lineOf(largest);
    const row = batch.origin.row === undefined ? undefined : batch.origin.row + largest;
    const where = batch.origin.file !== undefined ? `${batch.origin.file}${line === undefined ? '' : `:${line}`}` : batch.origin.query !== undefined ? `row ${row} of the query` : `row ${largest + 1} of a batch`;
    throw new SluiceError(
      'RECORD_EXCEEDS_BUDGET',
      `The record at ${where} takes about ${formatBytes(sizes[largest])} in memory, more than the whole memory budget of ${formatBytes(limit)}; ` +
        `raise --memory above ${formatBytes(sizes[largest])} (${formatBytes(sizes[largest] * BATCHES_IN_FLIGHT)} lets batches of such rows flow).`,
      { file: batch.origin.file, line, query: batch.origin.query, row, pipeline },
    );
  }
  const pieces: Batch[] = [];
  let start = 0;
  while (start < batch.length) {
    let end = start;
    let bytes = 0;
    while (end < batch.length && (end === start || bytes + sizes[end] <= share)) bytes += sizes[end++];
    const indices = new Uint32Array(end - start);
    for (let i = 0; i < indices.length; i++) indices[i] = start + i;
    pieces.push(batch.take(indices, indices.length));
    start = end;
  }
  return pieces;
}

/** Estimated bytes of each row of a batch, as its columns store it (the rare, oversized path only). */
function rowBytes(batch: Batch): Float64Array {
  const sizes = new Float64Array(batch.length).fill(batch.lines === undefined ? 0 : 4);
  for (const name of batch.names) {
    const column = batch.columns[name];
    if (column.dtype === 'string') {
      const data = column.data as string[];
      for (let i = 0; i < batch.length; i++) sizes[i] += typeof data[i] === 'string' ? estimateStringBytes(data[i]) : 8;
    } else {
      const width = fixedWidth(column.dtype);
      for (let i = 0; i < batch.length; i++) sizes[i] += width;
    }
  }
  return sizes;
}
