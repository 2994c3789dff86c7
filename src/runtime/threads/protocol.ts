/**
 * Messages between a threaded run and its worker threads. Everything here is structured-cloneable;
 * batches travel as WireBatch with their buffers moved (batch/transfer.ts).
 */
import type { WireBatch } from '../../batch/transfer.ts';
import type { ErrorLocation } from '../../core/errors.ts';
import type { RunWarning } from '../../core/warnings.ts';
import type { Violation } from '../../schema/decode.ts';

/** What a worker is started with. */
export interface WorkerStart {
  /** URL of the pipeline file: the worker imports it and takes its default export. */
  module: string;
}

export interface TaskMessage {
  type: 'task';
  id: number;
  /** For `source.partition(spec)`; its `range.firstLine` is 0 when the run does not know it yet. */
  spec: unknown;
  /** The part's bytes, to count its lines (none when it ends its file: nothing after it needs them). */
  count?: { file: string; start: number; end: number; crBreaks: boolean };
  /** The leading stages to run on the part, by their index in the pipeline, with their summary names. */
  stages: string[];
  batchRows: number;
  columns?: readonly string[];
  pipeline: string;
}

export type ToWorker =
  | TaskMessage
  /** The line the task's part starts on, once the lines before it are counted. */
  | { type: 'first-line'; id: number; line: number }
  /** The run took one more of the task's batches: the worker may send one more. */
  | { type: 'credit'; id: number }
  | { type: 'cancel'; id: number };

/** What happened in a worker between two batches, handed on with the next in input order. */
export interface TaskEvents {
  rejects: { violation: Violation; location: ErrorLocation }[];
  warnings: RunWarning[];
  /** Per stage run in the worker: rows in and out since the last message. */
  stages: [number, number][];
  /** Rows the source gave since the last message. */
  sourced: number;
  /** Bytes of the part read so far. */
  bytesRead: number;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  stack?: string;
  /** The part did not end on a record boundary (RangeMisaligned): read on from `resumeAt`, joined to the next. */
  misaligned?: { resumeAt: number; resumeLine: number };
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'lines'; id: number; lines: number }
  | ({ type: 'batch'; id: number; batch: WireBatch } & TaskEvents)
  | ({ type: 'done'; id: number; busyMs: number } & TaskEvents)
  | ({ type: 'failed'; id: number; error: SerializedError; busyMs: number } & TaskEvents);
