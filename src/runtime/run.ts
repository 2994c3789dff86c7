import type { Batch } from '../batch/batch.ts';
import { formatBytes, parseBytes } from '../core/bytes.ts';
import { SluiceError, isSluiceError } from '../core/errors.ts';
import { orderedMap } from '../core/ordered-map.ts';
import type { RunContext, SinkContext } from '../contracts/contracts.ts';
import { RunAccounting } from './accounting.ts';
import { BatchSizer, maxConcurrentPipelines, PIPELINE_FIXED_BYTES } from './batch-sizing.ts';
import { checkBudget, MemoryBudget } from './budget.ts';
import { incrementalState, type RunStateStore } from './incremental.ts';
import { MemoryWatch } from './memory-watch.ts';
import { emptySourceStats, meterSource, type ProgressEvent } from './meter-source.ts';
import { meterSink, meterStage, uniqueStageNames } from './meter-stage.ts';
import { checkStagesAtPlan, hasPlanChecks } from './plan-check.ts';
import type { RunWarning } from '../core/warnings.ts';
import { Rejects } from './rejects.ts';
import { buildSummary, type RunSummaryWithCause } from './summary-builder.ts';
import type { RunSummary, StageSummary } from './summary.ts';
import { checkRunOptions } from './run-options.ts';
import { TempFolders } from './temp-folders.ts';
import { type LiveSample, RunTimeSeries } from './time-series.ts';
import { startRunTelemetry } from './telemetry.ts';
import { watchForStall } from './watchdog.ts';
import { type Pipeline, pipelineColumns } from './pipeline.ts';
import { firstReader } from '../contracts/columns.ts';
import { chooseThreads, threadedSource, threadsNotUsed } from './threads/threaded-source.ts';

export type { ProgressEvent } from './meter-source.ts';
export type { RunStateStore } from './incremental.ts';
export type { LiveSample } from './time-series.ts';

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
  onWarning?: (pipeline: string, warning: RunWarning) => void;
  /** Where spilling stages write their temporary files; overrides the pipeline's `tempDir`. */
  tempDir?: string;
  /** Share a budget across calls (the scheduler of many pipelines does). */
  budget?: MemoryBudget;
  /** Incremental state of the (single) pipeline: `etl run` and `etl schedule` pass the pipeline's state store. */
  state?: RunStateStore;
  /** Each run's figures about every second (memory, rows/s per stage), for a live view: `etl top` publishes them. */
  onSample?: (sample: LiveSample) => void;
  /**
   * Spans and per-batch counters through `@opentelemetry/api` when the application has registered an
   * OpenTelemetry SDK (runtime/telemetry.ts); without one nothing is loaded. `false` turns them off.
   * @default true
   */
  openTelemetry?: boolean;
  /** Worker threads for the read and the row-wise stages; overrides the pipeline's `threads` (see PipelineOptions.threads). */
  threads?: number;
}

const DEFAULT_MEMORY = 256 * 1024 * 1024;
const DEFAULT_STALL_TIMEOUT_MS = 60_000;

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
  checkRunOptions(options);
  const asked = options.concurrency ?? 2;
  const limit = options.memory !== undefined ? parseBytes(options.memory) : list.length === 1 && list[0].memory !== undefined ? parseBytes(list[0].memory, 'memory') : DEFAULT_MEMORY;
  const budget = options.budget ?? new MemoryBudget(limit);
  checkBudget(budget.limit);
  // More pipelines at once than the budget holds the fixed costs of would go over it whatever their
  // batch sizes: the rest wait their turn, and each summary says so.
  const held = maxConcurrentPipelines(budget.limit);
  const concurrency = Math.min(asked, held);
  const capped: RunWarning | undefined =
    Math.min(asked, list.length) > held
      ? {
          code: 'CONCURRENCY_CAPPED',
          message: `concurrency ${asked} asked, ${concurrency} run at once: a budget of ${formatBytes(budget.limit)} holds the fixed costs (~${formatBytes(PIPELINE_FIXED_BYTES)} each: read buffers, output chunks) of ${held} pipeline(s) at a time; give more memory to run more at once.`,
        }
      : undefined;
  const watch = new MemoryWatch(budget.limit, (pressure) => budget.setPressure(pressure)).start();
  try {
    // Every pipeline is taken at once (backpressure: all of them), `concurrency` run at a time: a long
    // run does not keep the next one waiting after a shorter one beside it has ended.
    const summaries: RunSummary[] = [];
    const runs = orderedMap(list, (pipeline) => runOne(pipeline, options, budget, watch, capped), { concurrency, backpressure: Math.max(concurrency, list.length) });
    for await (const summary of runs) summaries.push(summary);
    return Array.isArray(pipelines) ? summaries : summaries[0];
  } finally {
    watch.stop();
  }
}

/** Runs one pipeline and throws its error if it fails. */
export async function runOrThrow(pipeline: Pipeline<any>, options: RunOptions = {}): Promise<RunSummary> {
  const summary = await run(pipeline, options);
  if (summary.status === 'failed') throw (summary as RunSummaryWithCause).cause ?? new Error(summary.error?.message);
  return summary;
}

/** An abort controller of the run's own, aborted with the caller's signal; `unlink` stops listening to it. */
function runController(outer: AbortSignal | undefined) {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer!.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  if (outer?.aborted) controller.abort(outer.reason);
  return { controller, unlink: () => outer?.removeEventListener('abort', onOuterAbort) };
}

function stoppedAfterCommit(name: string, reason: unknown): RunWarning {
  const why = reason instanceof Error ? reason.message : String(reason);
  return {
    code: 'STOPPED_AFTER_COMMIT',
    message: `a stop was asked (${why}) after the sink of ${name} had committed: the run finished, its rows and state are saved.`,
  };
}

/** Warnings of one run, each once, passed on to `onWarning` as they happen. */
function warningList(name: string, onWarning: RunOptions['onWarning']) {
  const warnings: RunWarning[] = [];
  const warn = (warning: RunWarning) => {
    if (warnings.some((known) => known.message === warning.message)) return;
    warnings.push(warning);
    onWarning?.(name, warning);
  };
  return { warnings, warn };
}

/**
 * One pipeline, wired: the source's batches reserved from the budget, each stage metered, the sink
 * giving each batch's bytes back once written, a watchdog for a run that waits on itself; everything
 * closed, given back and removed in `finally`, and a summary whatever happened.
 */
async function runOne(pipeline: Pipeline<any>, options: RunOptions, budget: MemoryBudget, watch: MemoryWatch, capped?: RunWarning): Promise<RunSummary> {
  const name = pipeline.name ?? 'pipeline';
  const startedAt = new Date();
  const { controller, unlink } = runController(options.signal);
  const signal = controller.signal;
  const { warnings, warn } = warningList(name, options.onWarning);
  if (capped !== undefined) warn(capped);
  const incremental = incrementalState(options.state);
  const base: RunContext = { pipeline: name, signal, warn, state: incremental?.state };
  const rejects = new Rejects(pipeline.rejects, name, options.dryRun === true);
  const startPeaks = watch.peaks();
  const stageNames = uniqueStageNames(pipeline.stages);
  const stages: StageSummary[] = stageNames.map((stage) => ({ name: stage, rowsIn: 0, rowsOut: 0, peakBytesHeld: 0, peakStateBytes: 0 }));
  const accounting = new RunAccounting(budget, watch, signal, [...stageNames, 'sink']);
  const temp = new TempFolders(name, options.tempDir ?? pipeline.tempDir);
  const sizer = new BatchSizer(budget, pipeline.batchRows);
  const source = emptySourceStats();
  budget.runs++;

  const columns = pipelineColumns(pipeline);
  const readerOf = (column: string) => {
    const reader = firstReader(pipeline.stages, column);
    return reader === undefined ? undefined : stageNames[reader];
  };
  const telemetry = await startRunTelemetry(name, stages, options.openTelemetry);
  const sourceRun = { base, limit: options.limit, rejects, sizer, accounting, startedAt, onProgress: options.onProgress, columns, readerOf, telemetry };
  const wire = (k: number, input: AsyncIterable<Batch>) => meterStage(pipeline.stages[k], input, base, stages[k], accounting, temp, rejects, telemetry);
  const asked = options.threads ?? pipeline.threads ?? 1;
  const choice = chooseThreads(pipeline, asked, options.limit);
  if (choice.reason !== undefined) {
    source.threads = { used: 1, asked, reason: choice.reason };
    warn(threadsNotUsed(asked, choice.reason));
  }
  let stream: AsyncIterable<Batch> =
    choice.module === undefined
      ? meterSource(pipeline.source, sourceRun, source)
      : threadedSource({ choice: { ...choice, module: choice.module }, ordered: pipeline.ordered ?? true, source: pipeline.source, run: sourceRun, stats: source, stageNames, stages, wire });
  for (let k = choice.inWorkers; k < pipeline.stages.length; k++) stream = wire(k, stream);
  const series = new RunTimeSeries({ startedAt, accounting, peaks: () => watch.peaks(), source, stages, sinkRows: () => accounting.rowsToSink, pipeline: name, onSample: options.onSample }).start();
  const sinkContext: SinkContext = { ...base, dryRun: options.dryRun === true };
  if (incremental !== undefined && options.dryRun !== true) sinkContext.beforeCommit = incremental.beforeCommit;
  const stopWatchdog = watchForStall(accounting, name, pipeline.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, (error) => controller.abort(error));

  let error: unknown;
  let written = 0;
  let location = pipeline.sink.describe().location;
  let sinkEngine: string | undefined;
  try {
    // Stages that can be checked against the source's plan are, before any row is read.
    if (hasPlanChecks(pipeline.stages)) {
      const description = await pipeline.source.describe({ ...base, columns });
      await checkStagesAtPlan(pipeline.stages, stageNames, description, base);
    }
    const result = await pipeline.sink.write(meterSink(stream, accounting, incremental?.written, telemetry), sinkContext);
    written = result.rowsWritten;
    location = result.location;
    sinkEngine = result.engine;
    // The sink has committed: a stop asked for now must not make the run forget it (its state unsaved,
    // the next run loading the same rows again). The run finished; the warning says a stop came too late.
    if (signal.aborted) warn(stoppedAfterCommit(name, signal.reason));
    if (options.dryRun !== true) await incremental?.afterCommit();
  } catch (caught) {
    error = signal.aborted && isSluiceError(signal.reason) ? signal.reason : caught;
    if (signal.aborted && !isSluiceError(error)) {
      error = new SluiceError('ABORTED', `Run of ${name} was stopped.`, { pipeline: name, cause: error });
    }
  } finally {
    stopWatchdog();
    budget.runs--;
    // The run is over: a source or a stage's helper still waiting for memory must stop waiting, and
    // take nothing more from a budget other pipelines may share.
    if (!signal.aborted) controller.abort(new SluiceError('ABORTED', `Run of ${name} ended.`, { pipeline: name }));
    unlink();
    accounting.releaseAll();
    for (const close of [() => rejects.close(), () => temp.remove()]) {
      try {
        await close();
      } catch (closeError) {
        error ??= closeError;
      }
    }
  }

  const peaks = watch.peaks();
  const samples = series.stop(peaks);
  const summary = buildSummary({
    pipeline,
    name,
    startedAt,
    endedAt: new Date(),
    error,
    written,
    location,
    sinkEngine,
    source,
    stages,
    rejects,
    accounting,
    rowsPerBatch: sizer.rowsPerBatch,
    startPeaks,
    peaks,
    samples,
    warnings,
    dryRun: options.dryRun === true,
  });
  telemetry?.end(summary);
  return summary;
}
