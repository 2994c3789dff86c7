import pLimit from 'p-limit';
import type { Batch } from './batch/batch.ts';
import { type ErrorLocation, SluiceError, isSluiceError } from './errors.ts';
import type { Pipeline, RunContext, SinkContext, SourceContext, Stage, StageContext } from './pipeline.ts';
import { Rejects } from './rejects.ts';
import type { RunSummary, StageSummary } from './report/summary.ts';
import { checkBudget, MemoryBudget } from './scheduler/budget.ts';
import { parseBytes } from './scheduler/bytes.ts';
import { MemoryWatch } from './scheduler/memory-watch.ts';
import type { Violation } from './schema/decode.ts';

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
}

const DEFAULT_MEMORY = 256 * 1024 * 1024;
const DEFAULT_BATCH_ROWS = 16_384;
const MIN_BATCH_ROWS = 64;
/** Batches of one pipeline the budget should fit at once: source, stages and sink each holding one, and slack. */
const BATCHES_IN_FLIGHT = 8;

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
  const base: RunContext = { pipeline: name, signal, warn };
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
    bytesRead: 0,
    totalBytes: undefined as number | undefined,
    rowsSourced: 0,
    batchCount: 0,
    columnarBytes: 0,
    objectBytes: 0,
    reservedByRun: 0,
    bytesPerRow: 0,
    rowsPerBatch: pipeline.batchRows ?? DEFAULT_BATCH_ROWS,
  };
  const maxRows = pipeline.batchRows ?? DEFAULT_BATCH_ROWS;
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
  };

  const sourceContext: SourceContext = {
    ...base,
    limit: options.limit,
    batchRows() {
      if (state.bytesPerRow > 0) {
        const share = budget.underPressure ? budget.limit / (BATCHES_IN_FLIGHT * 4) : budget.limit / BATCHES_IN_FLIGHT;
        state.rowsPerBatch = Math.max(MIN_BATCH_ROWS, Math.min(maxRows, Math.floor(share / state.bytesPerRow)));
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
    engine(engineName) {
      state.engine = engineName;
    },
  };

  async function* metered(): AsyncGenerator<Batch> {
    for await (const batch of pipeline.source.read(sourceContext)) {
      const bytes = batch.byteSize;
      if (batch.length > 0) {
        state.bytesPerRow = state.bytesPerRow === 0 ? bytes / batch.length : 0.7 * state.bytesPerRow + (0.3 * bytes) / batch.length;
      }
      if (bytes > budget.limit && batch.length <= 1) {
        throw new SluiceError(
          'RECORD_EXCEEDS_BUDGET',
          `A single record of ${bytes} bytes does not fit the memory budget of ${budget.limit} bytes; raise --memory.`,
          { file: batch.origin.file, line: batch.lineOf(0), query: batch.origin.query, row: batch.origin.row },
        );
      }
      await reserve(bytes);
      reservations.set(batch, bytes);
      state.rowsSourced += batch.length;
      state.batchCount++;
      state.columnarBytes += bytes;
      state.objectBytes += batch.objectBytes();
      yield batch;
    }
  }

  let stream: AsyncIterable<Batch> = metered();
  pipeline.stages.forEach((stage, k) => {
    stream = meterStage(stage, stageNames[k], stream, { ...base, stage: stageNames[k] }, stageStats[k], held, notePeak);
  });
  const sinkInput = meterSink(stream, release, held);
  const sinkContext: SinkContext = { ...base, dryRun: options.dryRun === true };

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
  stallTimer.unref();

  let error: unknown;
  let written = 0;
  let location = pipeline.sink.describe().location;
  try {
    const result = await pipeline.sink.write(sinkInput, sinkContext);
    written = result.rowsWritten;
    location = result.location;
    signal.throwIfAborted();
  } catch (caught) {
    error = signal.aborted && isSluiceError(signal.reason) ? signal.reason : caught;
    if (signal.aborted && !isSluiceError(error)) {
      error = new SluiceError('ABORTED', `Run of ${name} was stopped.`, { pipeline: name, cause: error });
    }
  } finally {
    clearInterval(stallTimer);
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
  const dropped = stageStats.reduce((sum, stage) => sum + Math.max(0, stage.rowsIn - stage.rowsOut), 0);
  const sourceDescription = { kind: pipeline.source.kind, location: pipeline.source.location, engine: state.engine };
  const summary: RunSummary & { cause?: unknown } = {
    pipeline: name,
    status: error === undefined ? 'succeeded' : 'failed',
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    elapsedMs,
    source: sourceDescription,
    sink: { kind: pipeline.sink.kind, location },
    rows: { read, written, dropped, rejected: rejects.count },
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
  async function* intake(): AsyncGenerator<Batch> {
    for await (const batch of input) {
      const bytes = reservations.get(batch) ?? 0;
      reservations.delete(batch);
      pending += bytes;
      held.set(name, pending);
      if (pending > stats.peakBytesHeld) stats.peakBytesHeld = pending;
      notePeak();
      stats.rowsIn += batch.length;
      yield batch;
    }
  }
  try {
    for await (const output of stage(intake(), context)) {
      stats.rowsOut += output.length;
      reservations.set(output, (reservations.get(output) ?? 0) + pending);
      pending = 0;
      held.set(name, 0);
      yield output;
    }
  } catch (error) {
    if (isSluiceError(error) || context.signal.aborted) throw error;
    throw new SluiceError('STAGE_FAILED', `stage ${name} failed: ${error instanceof Error ? error.message : String(error)}`, {
      stage: name,
      pipeline: context.pipeline,
      cause: error,
    });
  } finally {
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
