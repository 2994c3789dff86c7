/**
 * A worker thread of a threaded run: imports the pipeline file once, then reads the parts it is given
 * (`source.partition(spec)`), runs the leading row-wise stages on them, and sends the batches back with
 * their buffers moved. At most CREDITS batches of a task are unacknowledged at a time: the run hands
 * out credit as it takes them, so a worker waits when the run's budget is spent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Batch } from '../../batch/batch.ts';
import { BatchSender } from '../../batch/transfer.ts';
import { RangeMisaligned } from '../../connectors/files/file-source.ts';
import { countLines } from '../../connectors/files/line-count.ts';
import type { SourceContext, StageContext, StageMemory } from '../../contracts/contracts.ts';
import { isSluiceError, SluiceError } from '../../core/errors.ts';
import { importPipelineFile } from '../import-pipeline.ts';
import type { Pipeline } from '../pipeline.ts';
import type { FromWorker, SerializedError, TaskEvents, TaskMessage, ToWorker, WorkerStart } from './protocol.ts';

/** Batches of a task in flight to the run before the worker waits for credit. */
export const CREDITS = 4;

const port = parentPort!;
const start = workerData as WorkerStart;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

interface Running {
  controller: AbortController;
  credits: number;
  wake: (() => void) | null;
  firstLine: ((line: number) => void) | null;
  line: number;
}

const running = new Map<number, Running>();
const sender = new BatchSender();
let pipeline: Pipeline<any>;

try {
  pipeline = (await importPipelineFile(start.module)).default as Pipeline<any>;
  if (pipeline === undefined || typeof pipeline.source?.partition !== 'function') throw new Error(`${start.module} has no default export with a source that splits`);
  port.on('message', (message: ToWorker) => receive(message));
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'load-failed', error: serialize(error) });
}

function receive(message: ToWorker): void {
  if (message.type === 'task') {
    void runTask(message);
    return;
  }
  const task = running.get(message.id);
  if (task === undefined) return;
  if (message.type === 'credit') {
    task.credits++;
    task.wake?.();
  } else if (message.type === 'first-line') {
    task.line = message.line;
    task.firstLine?.(message.line);
  } else {
    task.controller.abort(new SluiceError('ABORTED', 'the run no longer needs this part'));
    task.wake?.();
  }
}

async function runTask(task: TaskMessage): Promise<void> {
  const started = performance.now();
  const state: Running = { controller: new AbortController(), credits: CREDITS, wake: null, firstLine: null, line: 0 };
  running.set(task.id, state);
  const signal = state.controller.signal;
  const events = emptyEvents(task.stages.length);
  const take = (): TaskEvents => {
    const taken = { ...events, stages: events.stages.map((pair) => [...pair] as [number, number]) };
    events.rejects = [];
    events.warnings = [];
    events.sourced = 0;
    for (const pair of events.stages) pair.fill(0);
    return taken;
  };
  try {
    const spec = task.spec as { range?: { firstLine: number } };
    if (task.count !== undefined) {
      // The part after this one starts where this one's lines end: count them first, at memchr speed.
      send({ type: 'lines', id: task.id, lines: await countLines(task.count.file, task.count.start, task.count.end, task.count.crBreaks) });
    }
    if (spec.range !== undefined && spec.range.firstLine === 0) {
      spec.range.firstLine = state.line || (await new Promise<number>((resolve) => (state.firstLine = resolve)));
    }
    const context: SourceContext = {
      pipeline: task.pipeline,
      signal,
      warn: (warning) => events.warnings.push(warning),
      batchRows: () => task.batchRows,
      columns: task.columns,
      async reject(violation, location) {
        events.rejects.push({ violation, location });
      },
      progress(bytes) {
        events.bytesRead = bytes;
      },
      engine() {},
      columnsRead() {},
    };
    let stream: AsyncIterable<Batch> = counted(pipeline.source.partition!(task.spec).read(context), events);
    task.stages.forEach((name, k) => {
      stream = stageRun(k, name, stream, { ...context, stage: name, memory: noMemory, tempDir: notRowWise, readSource: notRowWise }, events.stages[k]);
    });
    for await (const batch of stream) {
      while (state.credits === 0 && !signal.aborted) await new Promise<void>((resolve) => (state.wake = resolve));
      signal.throwIfAborted();
      state.credits--;
      const { wire, transfer } = sender.encode(batch);
      send({ type: 'batch', id: task.id, batch: wire, ...take() }, transfer);
    }
    send({ type: 'done', id: task.id, busyMs: performance.now() - started, ...take() });
  } catch (error) {
    send({ type: 'failed', id: task.id, error: serialize(error), busyMs: performance.now() - started, ...take() });
  } finally {
    running.delete(task.id);
  }
}

function emptyEvents(stages: number): TaskEvents {
  return { rejects: [], warnings: [], stages: Array.from({ length: stages }, () => [0, 0] as [number, number]), sourced: 0, bytesRead: 0 };
}

async function* counted(batches: AsyncIterable<Batch>, events: TaskEvents): AsyncGenerator<Batch> {
  for await (const batch of batches) {
    events.sourced += batch.length;
    yield batch;
  }
}

/** One stage on the worker, counted, and failing as the main thread's metering says a stage failed. */
async function* stageRun(k: number, name: string, input: AsyncIterable<Batch>, context: StageContext, counts: [number, number]): AsyncGenerator<Batch> {
  async function* intake(): AsyncGenerator<Batch> {
    for await (const batch of input) {
      counts[0] += batch.length;
      yield batch;
    }
  }
  try {
    for await (const output of pipeline.stages[k](intake(), context)) {
      counts[1] += output.length;
      yield output;
    }
  } catch (error) {
    if (isSluiceError(error) || context.signal.aborted || error instanceof RangeMisaligned) throw error;
    throw new SluiceError('STAGE_FAILED', `stage ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { stage: name, pipeline: context.pipeline, cause: error });
  }
}

/**
 * Row-wise stages hold nothing between batches: a stage that reserves memory is not one. What a
 * `threadSafe` mapBatches keeps (context.memory.keep) is its batch in flight, counted by the run on arrival.
 */
const noMemory: StageMemory = {
  async reserve() {},
  tryReserve: () => true,
  release() {},
  held: 0,
  keep() {},
};

function notRowWise(): never {
  throw new SluiceError('STAGE_FAILED', 'a stage run in a worker thread has no temporary folder and reads no other source: it is not row-wise');
}

export function serialize(error: unknown): SerializedError {
  if (error instanceof RangeMisaligned) return { name: 'RangeMisaligned', message: error.message, misaligned: { resumeAt: error.resumeAt, resumeLine: error.resumeLine } };
  if (error instanceof SluiceError) {
    const { cause, ...details } = error.details;
    const causeText = cause instanceof Error ? cause.message : cause === undefined ? undefined : String(cause);
    return { name: error.name, message: error.message, code: error.code, details: { ...details, ...(causeText === undefined ? {} : { cause: causeText }) }, stack: error.stack };
  }
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}
