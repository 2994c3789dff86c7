import type { RunTelemetry } from './telemetry.ts';
import type { Batch } from '../batch/batch.ts';
import { type ErrorLocation, SluiceError } from '../core/errors.ts';
import { closestName } from '../core/options.ts';
import type { RunContext, Source, SourceContext } from '../contracts/contracts.ts';
import type { Violation } from '../schema/decode.ts';
import type { RunAccounting } from './accounting.ts';
import type { BatchSizer } from './batch-sizing.ts';
import type { Rejects } from './rejects.ts';
import { splitToFit } from './split-to-fit.ts';
import type { ThreadFigures } from './threads/figures.ts';

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
  /** The columns the source said it read (projection push-down), of how many it would read without it. */
  columnsRead?: readonly string[];
  columnsOf?: number;
  /** Worker threads, when `threads` above 1 was asked. */
  threads?: ThreadFigures;
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
  /** The columns the pipeline uses (contracts/columns.ts), or undefined: every one. */
  columns?: readonly string[];
  /** The stage that reads a column, by its summary name (for the error when the input lacks it). */
  readerOf?: (name: string) => string | undefined;
  telemetry?: RunTelemetry;
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
    columns: run.columns,
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
    columnsRead(read, all) {
      stats.columnsRead = [...read];
      stats.columnsOf = all.length;
      const missing = run.columns?.find((name) => !all.includes(name));
      if (missing !== undefined) throw missingColumn(missing, all, run.readerOf?.(missing));
    },
  };
}

/**
 * A column the pipeline uses that the input does not have: said before any row is read, with the
 * input's columns (a stage meeting it would see only the columns read, and list those).
 */
function missingColumn(name: string, all: readonly string[], stage: string | undefined): SluiceError {
  const nearest = closestName(name, all);
  const who = stage ?? 'a stage';
  return new SluiceError(
    'STAGE_FAILED',
    `${who}: no column ${JSON.stringify(name)} in the input${nearest === undefined ? '' : ` (did you mean ${JSON.stringify(nearest)}?)`}; it has ${all.join(', ')}.`,
    { ...(stage === undefined ? {} : { stage }), column: name },
  );
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
      run.telemetry?.batch('source', 'out', batch.length);
      yield batch;
    }
  }
}
