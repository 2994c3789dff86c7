import type { Batch } from '../batch/batch.ts';
import type { ErrorLocation } from '../core/errors.ts';
import type { RunContext, Source, SourceContext } from '../contracts/contracts.ts';
import type { Violation } from '../schema/decode.ts';
import type { RunAccounting } from './accounting.ts';
import type { BatchSizer } from './batch-sizing.ts';
import type { Rejects } from './rejects.ts';
import { splitToFit } from './split-to-fit.ts';

/** What the run learns of its source as it reads: figures for progress and the summary. */
export interface SourceStats {
  engine?: string;
  engineDetail?: string;
  bytesRead: number;
  totalBytes?: number;
  /** Rows handed on (rejected rows are counted by the rejects). */
  rowsSourced: number;
  batchCount: number;
  columnarBytes: number;
  objectBytes: number;
}

export interface ProgressEvent {
  pipeline: string;
  rowsRead: number;
  bytesRead: number;
  totalBytes?: number;
  elapsedMs: number;
}

export interface SourceRun {
  base: RunContext;
  limit?: number;
  rejects: Rejects;
  sizer: BatchSizer;
  accounting: RunAccounting;
  startedAt: Date;
  onProgress?: (event: ProgressEvent) => void;
}

export function emptySourceStats(): SourceStats {
  return { bytesRead: 0, rowsSourced: 0, batchCount: 0, columnarBytes: 0, objectBytes: 0 };
}

/** The source's context: batch size from the sizer, rejects, progress and engine notes into `stats`. */
export function sourceContext(run: SourceRun, stats: SourceStats): SourceContext {
  const { base, rejects } = run;
  return {
    ...base,
    limit: run.limit,
    batchRows: () => run.sizer.next(),
    reject: (violation: Violation, location: ErrorLocation) => rejects.reject(violation, { ...location, pipeline: base.pipeline }),
    progress(bytesRead, totalBytes) {
      stats.bytesRead = bytesRead;
      stats.totalBytes = totalBytes;
      run.onProgress?.({
        pipeline: base.pipeline,
        rowsRead: stats.rowsSourced + rejects.count,
        bytesRead,
        totalBytes,
        elapsedMs: Date.now() - run.startedAt.getTime(),
      });
    },
    engine(engineName, detail) {
      stats.engine = engineName;
      stats.engineDetail = detail;
    },
  };
}

/**
 * The source's batches, each reserved from the budget before it goes on (the source waits while the
 * budget is spent), measured for batch sizing and counted.
 */
export async function* meterSource(source: Source<any>, run: SourceRun, stats: SourceStats): AsyncGenerator<Batch> {
  const { accounting, sizer } = run;
  const limit = accounting.budget.limit;
  for await (const sourced of source.read(sourceContext(run, stats))) {
    const sourcedBytes = sourced.byteSize;
    sizer.observe(sourced.length, sourcedBytes);
    // A batch larger than the whole budget (rows wider than measured so far) goes on in pieces that
    // fit, so "reserved ≤ budget" holds; a single row larger than the budget cannot, and fails here.
    const pieces = sourcedBytes > limit ? splitToFit(sourced, limit, sizer.share(), run.base.pipeline) : [sourced];
    for (const batch of pieces) {
      const bytes = pieces.length === 1 ? sourcedBytes : batch.byteSize;
      await accounting.reserve(bytes);
      accounting.attach(batch, bytes);
      stats.rowsSourced += batch.length;
      stats.batchCount++;
      stats.columnarBytes += bytes;
      stats.objectBytes += batch.objectBytes();
      yield batch;
    }
  }
}
