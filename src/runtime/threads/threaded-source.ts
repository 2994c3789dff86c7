/**
 * Whether a run reads on worker threads, and the stream it reads either way. `threads` above 1 is a
 * wish: a pipeline not loaded from its file (workers import it), a `--limit` (one thread stops at the
 * row exactly), a source that does not split (PostgreSQL, the csv-parse engine, one `.gz` file, an
 * incremental read) reads on the main thread, and the summary says why.
 */
import type { Batch } from '../../batch/batch.ts';
import { partSizing } from '../../connectors/files/file-source.ts';
import type { Source, Stage } from '../../contracts/contracts.ts';
import { formatBytes } from '../../core/bytes.ts';
import type { RunWarning } from '../../core/warnings.ts';
import { meterSource, type SourceRun, type SourceStats } from '../meter-source.ts';
import type { Pipeline } from '../pipeline.ts';
import type { StageSummary } from '../summary.ts';
import { pipelineModuleOf } from './pipeline-module.ts';
import { ThreadPool } from './pool.ts';
import type { ThreadFigures } from './figures.ts';
import { threadedRead } from './threaded-read.ts';

export type { ThreadFigures } from './figures.ts';

/** The leading stages a worker can run: row-wise, up to the first that is not. */
export function leadingRowWise(stages: readonly Stage<any, any>[]): number {
  let count = 0;
  while (count < stages.length && stages[count].rowWise === true) count++;
  return count;
}

export interface ThreadChoice {
  threads: number;
  module?: string;
  /** Stages run in the workers (or, reading on one thread after all, by `wire` here). */
  inWorkers: number;
  reason?: string;
}

export function chooseThreads(pipeline: Pipeline<any>, asked: number, limit: number | undefined): ThreadChoice {
  if (asked <= 1) return { threads: 1, inWorkers: 0 };
  const module = pipelineModuleOf(pipeline);
  const reason =
    module === undefined
      ? 'the pipeline was not loaded from its file (etl run, loadPipeline), which each worker imports'
      : limit !== undefined
        ? '--limit reads on one thread'
        : pipeline.source.threadParts === undefined
          ? `a ${pipeline.source.kind} source does not split into parts`
          : undefined;
  if (reason !== undefined) return { threads: 1, inWorkers: 0, reason };
  return { threads: asked, module, inWorkers: leadingRowWise(pipeline.stages) };
}

export interface ThreadedSourceRun {
  choice: ThreadChoice & { module: string };
  ordered: boolean;
  source: Source<any>;
  run: SourceRun;
  stats: SourceStats;
  stageNames: string[];
  stages: StageSummary[];
  /** The main thread's wiring of stage k (metered), for a read that stays on one thread. */
  wire(k: number, input: AsyncIterable<Batch>): AsyncIterable<Batch>;
}

export async function* threadedSource(input: ThreadedSourceRun): AsyncGenerator<Batch> {
  const { choice, run, stats, source } = input;
  // The workers load the pipeline file while the parts are planned.
  const pool = new ThreadPool(choice.module, choice.threads);
  let handedOn = false;
  try {
    const parts = await source.threadParts!({ threads: choice.threads, signal: run.base.signal, warn: run.base.warn, columns: run.columns });
    if (parts === undefined || parts.parts.length < 2) {
      const reason = parts === undefined ? `this ${source.kind} source reads as one part (a .gz file, the csv-parse engine, incremental: true)` : `the input is one part (a file of ${formatBytes(partSizing.minBytes)} or less is not split)`;
      stats.threads = { used: 1, asked: choice.threads, reason };
      run.base.warn(threadsNotUsed(choice.threads, reason));
      await pool.close();
      let stream: AsyncIterable<Batch> = meterSource(source, run, stats);
      for (let k = 0; k < choice.inWorkers; k++) stream = input.wire(k, stream);
      yield* stream;
      return;
    }
    const workers = Array.from({ length: choice.threads }, () => ({ rows: 0, parts: 0, busyMs: 0 }));
    const stageNames = input.stageNames.slice(0, choice.inWorkers);
    stats.threads = { used: choice.threads, asked: choice.threads, parts: parts.parts.length, stages: stageNames, workers };
    handedOn = true;
    yield* threadedRead({ module: choice.module, threads: choice.threads, ordered: input.ordered, parts, stageNames, stages: input.stages, run, stats, workers, pool });
  } finally {
    if (!handedOn) await pool.close();
  }
}

export function threadsNotUsed(asked: number, reason: string): RunWarning {
  return { code: 'THREADS_NOT_USED', message: `threads: ${asked} asked, the input read on one thread: ${reason}.` };
}
