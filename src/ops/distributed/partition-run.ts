/**
 * One partition of a distributed run, in a process of `etl worker`'s (partition-entry.ts): the pipeline
 * file loaded once per process, its source narrowed to the partition, its sink fenced by the job's
 * claim (fence.ts), run as `run()` runs any pipeline, under the worker's share of memory.
 */
import { extname } from 'node:path';
import { isSluiceError } from '../../core/errors.ts';
import type { Pipeline } from '../../runtime/pipeline.ts';
import { run } from '../../runtime/run.ts';
import { loadPipeline } from '../load.ts';
import { type Claim, fencedSink } from './fence.ts';

export interface PartitionRequest {
  /** The pipeline file on this host, absolute. */
  file: string;
  claim: Claim;
  /** What the source's `partitions()` planned for this part. */
  spec: unknown;
  /** Bytes: this partition's memory budget. */
  memory: number;
}

export interface PartitionReport {
  status: 'succeeded' | 'failed';
  rowsRead: number;
  rowsWritten: number;
  rowsRejected: number;
  error?: { code: string; message: string };
}

/** The pipelines this process loaded, by file: a process runs many partitions, and loads each file once. */
const loaded = new Map<string, Promise<Pipeline<any>>>();

function pipelineOf(file: string): Promise<Pipeline<any>> {
  let pipeline = loaded.get(file);
  if (pipeline === undefined) {
    pipeline = loadPipeline(file);
    loaded.set(file, pipeline);
    // A file that failed to load is tried again by the next partition (it may have been fixed).
    pipeline.catch(() => loaded.delete(file));
  }
  return pipeline;
}

/** Loads the pipeline files ahead of the first partition, so that it does not wait for them. */
export async function preloadPipelines(files: readonly string[]): Promise<void> {
  await Promise.allSettled(files.map(pipelineOf));
}

export async function runPartition(request: PartitionRequest, signal: AbortSignal): Promise<PartitionReport> {
  try {
    const pipeline = partitionPipeline(await pipelineOf(request.file), request);
    const summary = await run(pipeline, { memory: request.memory, signal });
    const error = summary.error === undefined ? undefined : { code: summary.error.code, message: summary.error.message };
    return { status: summary.status, rowsRead: summary.rows.read, rowsWritten: summary.rows.written, rowsRejected: summary.rows.rejected, error };
  } catch (error) {
    const reported = isSluiceError(error) ? { code: error.code, message: error.message } : { code: 'RUN_PROCESS', message: error instanceof Error ? error.message : String(error) };
    return { status: 'failed', rowsRead: 0, rowsWritten: 0, rowsRejected: 0, error: reported };
  }
}

/** The pipeline of one partition: its source narrowed, its sink fenced (and for a replace, aimed at the run's staging table), its rejects in a file of its own. */
export function partitionPipeline(pipeline: Pipeline<any>, request: PartitionRequest): Pipeline<any> {
  const source = pipeline.source.partition!(request.spec);
  // A replace writes aside (the run's staging table), made visible by finalize.
  const sink = fencedSink(pipeline.sink.forDistributedRun?.(request.claim.runId)?.partition ?? pipeline.sink, request.claim);
  // Partitions run at once, maybe on one host: each writes its own rejects file, and `max` counts per partition.
  const rejects = pipeline.rejects === undefined ? undefined : { ...pipeline.rejects, path: partFile(pipeline.rejects.path, request.claim.partition) };
  return { ...pipeline, source, sink, rejects };
}

/** `out/rejects.ndjson` → `out/rejects.part-3.ndjson`. */
export function partFile(path: string, partition: number): string {
  const extension = extname(path);
  return `${path.slice(0, path.length - extension.length)}.part-${partition}${extension}`;
}
