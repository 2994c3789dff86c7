import { SluiceError, isSluiceError } from '../core/errors.ts';
import type { RunWarning } from '../core/warnings.ts';
import type { RunAccounting } from './accounting.ts';
import type { RunSamples } from './time-series.ts';
import type { MemoryPeaks } from './memory-watch.ts';
import type { SourceStats } from './meter-source.ts';
import type { Pipeline } from './pipeline.ts';
import type { Rejects } from './rejects.ts';
import type { RunSummary, StageSummary } from './summary.ts';

/** What a run ended with, for its summary. */
export interface RunOutcome {
  pipeline: Pipeline<any>;
  name: string;
  startedAt: Date;
  endedAt: Date;
  error: unknown;
  written: number;
  /** Where the sink wrote, as it says after writing (or as it described itself before). */
  location: string;
  /** How the sink wrote, as it said (`SinkResult.engine`). */
  sinkEngine?: string;
  source: SourceStats;
  stages: StageSummary[];
  rejects: Rejects;
  accounting: RunAccounting;
  rowsPerBatch: number;
  /** The memory watch's figures at the run's start and end. */
  startPeaks: MemoryPeaks;
  peaks: MemoryPeaks;
  /** Memory and throughput over time (time-series.ts). */
  samples: RunSamples;
  warnings: RunWarning[];
  dryRun: boolean;
}

export type RunSummaryWithCause = RunSummary & { cause?: unknown };

/** The run's summary: rows accounted for, throughput, memory, batches; a failed run's error as data. */
export function buildSummary(outcome: RunOutcome): RunSummaryWithCause {
  const { pipeline, name, error, source, rejects, startPeaks, peaks, warnings } = outcome;
  const { budget, heldAtPeak } = outcome.accounting;
  const elapsedMs = outcome.endedAt.getTime() - outcome.startedAt.getTime();
  // Rows a stage's other source rejected (a join's build side) are rejected, not read: `read` is the main source's.
  const sideRejected = outcome.stages.reduce((sum, stage) => sum + (stage.sideSource?.rejected ?? 0), 0);
  const read = source.rowsSourced + rejects.count - sideRejected;
  const written = outcome.written;
  const dropped = outcome.stages.reduce((sum, stage) => sum + Math.max(0, stage.rowsIn - stage.rowsOut - (stage.rowsInFlight ?? 0)), 0);
  const summary: RunSummaryWithCause = {
    pipeline: name,
    status: error === undefined ? 'succeeded' : 'failed',
    startedAt: outcome.startedAt.toISOString(),
    endedAt: outcome.endedAt.toISOString(),
    elapsedMs,
    source: {
      kind: pipeline.source.kind,
      location: pipeline.source.location,
      engine: source.engine,
      ...(source.engineDetail === undefined ? {} : { engineDetail: source.engineDetail }),
      ...(source.columnsRead === undefined ? {} : { columns: { read: [...source.columnsRead], of: source.columnsOf ?? source.columnsRead.length } }),
      ...(source.threads === undefined ? {} : { threads: source.threads }),
    },
    sink: { kind: pipeline.sink.kind, location: outcome.location, ...(outcome.sinkEngine === undefined ? {} : { engine: outcome.sinkEngine }) },
    rows: {
      read,
      written,
      dropped,
      rejected: rejects.count,
      ...(error === undefined ? {} : { inFlight: Math.max(0, read - written - dropped - (rejects.count - sideRejected)) }),
    },
    stages: outcome.stages,
    input: { bytesRead: source.bytesRead, totalBytes: source.totalBytes },
    rowsPerSecond: elapsedMs > 0 ? Math.round((read / elapsedMs) * 1000) : 0,
    megabytesPerSecond: elapsedMs > 0 ? Number(((source.bytesRead / 1048576 / elapsedMs) * 1000).toFixed(1)) : 0,
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
      count: source.batchCount,
      columnarBytes: source.columnarBytes,
      objectBytes: source.objectBytes,
      savingRatio: source.columnarBytes > 0 ? Number((source.objectBytes / source.columnarBytes).toFixed(2)) : 0,
      rowsPerBatch: outcome.rowsPerBatch,
      meanRows: source.batchCount > 0 ? Math.round(source.rowsSourced / source.batchCount) : 0,
    },
    samples: outcome.samples,
    rejectsPath: rejects.count > 0 ? rejects.path : undefined,
    warnings,
    dryRun: outcome.dryRun,
  };
  if (summary.memory.pressureEvents > 0) {
    warnings.push({
      code: 'MEMORY_PRESSURE',
      message: `the process went above its memory budget ${summary.memory.pressureEvents} time(s); sources paused and batches shrank until it was back under`,
    });
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
