/**
 * A threaded read: the source's parts (Source.threadParts) shared out to worker threads, which read
 * them and run the leading row-wise stages; their batches come back here and go on to the rest of the
 * pipeline as one stream, in input order unless `ordered: false`.
 *
 * - Lines: each worker counts the line breaks of its part first (fast), so the part after knows the
 *   line it starts on before it parses a record: lines in batches, errors, rejects and warnings are
 *   the file's, as on one thread.
 * - Boundaries: a part's start is a guess (connectors/csv/boundaries.ts) until the part before it ends
 *   on a record boundary. A part that did not (RangeMisaligned) is read again joined to the next, and
 *   nothing of either is used; so nothing of a part goes on before the parts before it in its file are
 *   done, in either order.
 * - Order and budget: batches of the part being passed on go on as they come; those of later parts wait
 *   in a reorder buffer, reserved from the run's budget, at most a quarter of it (the rest is for the
 *   batches going on). A worker has at most CREDITS batches unacknowledged: when the buffer is full it
 *   gets no more credit and waits.
 * - Errors: a part's error, its rejects and its warnings are handed on in input order with its batches,
 *   so the run fails where one thread would, with the same error. A worker that dies fails the run
 *   with WORKER_FAILED; the others are terminated in `finally`.
 */
import type { Batch } from '../../batch/batch.ts';
import { BatchReceiver } from '../../batch/transfer.ts';
import { checkUnchanged, inputIdentity, type InputIdentity, withLineOf } from '../../connectors/files/inputs.ts';
import type { ThreadPart, ThreadParts } from '../../contracts/contracts.ts';
import { SluiceError, type ErrorCode } from '../../core/errors.ts';
import type { RunWarning } from '../../core/warnings.ts';
import { type SourceRun, type SourceStats, sourceContext } from '../meter-source.ts';
import type { StageSummary } from '../summary.ts';
import type { ThreadPool, PoolWorker } from './pool.ts';
import type { FromWorker, SerializedError, TaskEvents } from './protocol.ts';
import type { WorkerFigures } from './figures.ts';

export interface ThreadedRead {
  module: string;
  threads: number;
  ordered: boolean;
  parts: ThreadParts;
  /** Summary names of the leading stages the workers run. */
  stageNames: string[];
  stages: StageSummary[];
  run: SourceRun;
  stats: SourceStats;
  /** Per worker, for the summary. */
  workers: WorkerFigures[];
  /** Started before the parts were planned, so the workers load the pipeline meanwhile. */
  pool: ThreadPool;
}

type Item = Extract<FromWorker, { type: 'batch' | 'done' | 'failed' }> & { decoded?: Batch; bytes?: number; reserved?: boolean; credited?: boolean };

interface Slot {
  part: ThreadPart;
  /** 0 until the lines of the parts before it in its file are counted. */
  firstLine: number;
  lines?: number;
  task?: number;
  worker?: PoolWorker;
  items: Item[];
  finished: boolean;
  bytesRead: number;
}

/** Bytes of later parts' batches the reorder buffer holds at most, as a share of the budget. */
const REORDER_SHARE = 0.25;

export async function* threadedRead(read: ThreadedRead): AsyncGenerator<Batch> {
  const { run, stats, stages, parts } = read;
  const { accounting, sizer } = run;
  const context = sourceContext(run, stats);
  context.engine(`${parts.engine}, ${read.threads} threads`);
  context.columnsRead(parts.columnsRead, parts.columnsOf);
  const receiver = new BatchReceiver();
  const slots: Slot[] = parts.parts.map((part) => ({ part, firstLine: firstLineOf(part), items: [], finished: false, bytesRead: 0 }));
  const byTask = new Map<number, Slot>();
  const idle: PoolWorker[] = [];
  const widened = new Set<string>();
  /** Inferred columns widened so far in input order: the parts after are read with them widened. */
  const widenedTo = new Map<string, string>();
  let nextTask = 1;
  let fatal: SluiceError | null = null;
  let wake: (() => void) | null = null;
  let bufferedBytes = 0;
  let doneBytes = 0;
  const bufferLimit = accounting.budget.limit * REORDER_SHARE;
  const notify = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };

  const dispatch = () => {
    while (idle.length > 0) {
      const slot = slots.find((candidate) => candidate.task === undefined);
      if (slot === undefined) return;
      const worker = idle.shift()!;
      const id = nextTask++;
      slot.task = id;
      slot.worker = worker;
      byTask.set(id, slot);
      const spec = structuredClone(slot.part.spec) as { range?: { firstLine: number }; widened?: Record<string, string> };
      if (spec.range !== undefined) spec.range.firstLine = slot.firstLine;
      if (widenedTo.size > 0) spec.widened = Object.fromEntries(widenedTo);
      read.workers[worker.index].parts++;
      worker.post({
        type: 'task',
        id,
        spec,
        count: slot.part.last ? undefined : { file: slot.part.file, start: slot.part.start, end: slot.part.end, crBreaks: slot.part.crBreaks },
        stages: read.stageNames,
        batchRows: sizer.next(),
        columns: run.columns,
        pipeline: run.base.pipeline,
      });
    }
  };

  /** Lines counted: the parts after learn the line they start on. */
  const settleLines = () => {
    for (let k = 1; k < slots.length; k++) {
      const slot = slots[k];
      if (slot.firstLine !== 0) continue;
      const before = slots[k - 1];
      if (before.firstLine === 0 || before.lines === undefined) break;
      slot.firstLine = before.firstLine + before.lines;
      if (slot.task !== undefined) slot.worker!.post({ type: 'first-line', id: slot.task, line: slot.firstLine });
    }
  };

  const onMessage = (worker: PoolWorker, message: FromWorker) => {
    if (message.type === 'ready' || message.type === 'load-failed') return;
    const slot = byTask.get(message.id);
    if (message.type === 'done' || message.type === 'failed') {
      read.workers[worker.index].busyMs += message.busyMs;
      byTask.delete(message.id);
      idle.push(worker);
    }
    // A part cancelled (joined to the one before it) says no more.
    if (slot !== undefined && slot.task === message.id) {
      if (message.type === 'lines') {
        slot.lines = message.lines;
        settleLines();
      } else {
        const item: Item = message;
        if (message.type === 'batch') {
          item.decoded = receiver.decode(worker.index, message.batch);
          item.bytes = item.decoded.byteSize;
          read.workers[worker.index].rows += item.decoded.length;
          // A later part's batch waits in the reorder buffer: reserved now while the buffer has room, and
          // the worker may send another; otherwise it waits for credit until this part's turn.
          if (slot !== slots[0] && bufferedBytes + item.bytes <= bufferLimit && accounting.tryReserveRoom(item.bytes)) {
            item.reserved = true;
            item.credited = true;
            bufferedBytes += item.bytes;
            worker.post({ type: 'credit', id: message.id });
          }
        } else {
          slot.finished = true;
        }
        slot.bytesRead = message.bytesRead;
        slot.items.push(item);
      }
    }
    dispatch();
    notify();
  };

  const pool = read.pool;
  pool.listen(onMessage, (error) => {
    fatal ??= error;
    notify();
  });
  const signal = run.base.signal;
  signal.addEventListener('abort', notify);
  const identities = new Map<string, InputIdentity>();
  try {
    for (const part of parts.parts) if (!identities.has(part.file)) identities.set(part.file, await inputIdentity(part.file));
    await waitFor(pool.whenReady(), () => fatal, run.base.signal);
    idle.push(...pool.workers);
    dispatch();
    let yielded = false;
    let empty: Batch | undefined;
    while (slots.length > 0) {
      const index = pick(slots, read.ordered);
      if (fatal !== null) throw fatal;
      if (index < 0) {
        signal.throwIfAborted();
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const slot = slots[index];
      const item = slot.items.shift()!;
      await handOn(item, slot);
      if (item.type === 'batch') {
        const batch = item.decoded!;
        if (!item.credited) slot.worker!.post({ type: 'credit', id: item.id });
        if (item.reserved) bufferedBytes -= item.bytes!;
        else await accounting.reserve(item.bytes!);
        accounting.attach(batch, item.bytes!);
        sizer.observe(batch.length, item.bytes!);
        if (batch.length === 0) {
          // Every part with no rows says its columns with an empty batch; one goes on if nothing else does.
          empty ??= batch;
          accounting.release(item.bytes!);
          continue;
        }
        stats.batchCount++;
        stats.columnarBytes += item.bytes!;
        stats.objectBytes += batch.objectBytes();
        yielded = true;
        yield batch;
        continue;
      }
      if (item.type === 'failed') {
        const misaligned = item.error.misaligned;
        if (misaligned !== undefined && index + 1 < slots.length && slots[index + 1].part.file === slot.part.file) {
          // What the part handed on is good; the record it left open is read on with the next part.
          for (const waiting of slots[index + 1].items) release(waiting);
          joinNext(slots, index, byTask, misaligned);
          settleLines();
          dispatch();
          continue;
        }
        const error = revive(item.error);
        await checkUnchanged(slot.part.file, identities.get(slot.part.file)!, error);
        throw await withLineOf(error);
      }
      // Done: the part is passed on whole.
      doneBytes += slot.part.bytes;
      slots.splice(index, 1);
      if (slot.part.last && !slots.some((other) => other.part.file === slot.part.file)) await checkUnchanged(slot.part.file, identities.get(slot.part.file)!);
      context.progress(doneBytes, parts.totalBytes);
    }
    if (!yielded && empty !== undefined) {
      await accounting.reserve(empty.byteSize);
      accounting.attach(empty, empty.byteSize);
      yield empty;
    }
  } finally {
    signal.removeEventListener('abort', notify);
    for (const slot of slots) for (const item of slot.items) release(item);
    await pool.close();
  }

  /** The parts after `slot` are read again (from their start, with the run's widenings); what they read is dropped. */
  function readAgainAfter(slot: Slot): void {
    for (const later of slots.slice(slots.indexOf(slot) + 1)) {
      if (later.task === undefined) continue;
      byTask.delete(later.task);
      later.worker!.post({ type: 'cancel', id: later.task });
      for (const item of later.items) release(item);
      Object.assign(later, { task: undefined, worker: undefined, items: [], finished: false, bytesRead: 0 });
    }
    dispatch();
  }

  /** A buffered batch that will not go on gives its reservation back. */
  function release(item: Item): void {
    if (item.reserved !== true) return;
    item.reserved = false;
    bufferedBytes -= item.bytes!;
    accounting.release(item.bytes!);
  }

  /** What happened in the worker up to this item, in input order: rejects, warnings, counts, progress. */
  async function handOn(events: TaskEvents, slot: Slot): Promise<void> {
    stats.rowsSourced += events.sourced;
    run.telemetry?.batch('source', 'out', events.sourced);
    events.stages.forEach(([rowsIn, rowsOut], k) => {
      stages[k].rowsIn += rowsIn;
      stages[k].rowsOut += rowsOut;
      run.telemetry?.batch(stages[k].name, 'in', rowsIn);
      run.telemetry?.batch(stages[k].name, 'out', rowsOut);
    });
    for (const warning of events.warnings) {
      if (!firstWidening(warning, widened)) continue;
      run.base.warn(warning);
      if (warning.code === 'COLUMN_WIDENED' && read.ordered) {
        // One thread reads the column widened from here on: so must every part after this one.
        widenedTo.set(warning.column!, warning.to!);
        readAgainAfter(slot);
      }
    }
    for (const { violation, location } of events.rejects) await context.reject(violation, location);
    let inFlight = 0;
    for (const other of slots) if (other !== slot || !slot.finished) inFlight += other.bytesRead;
    context.progress(doneBytes + inFlight, parts.totalBytes);
  }
}

function firstLineOf(part: ThreadPart): number {
  return (part.spec as { range?: { firstLine: number } }).range?.firstLine ?? 1;
}

/**
 * The slot to take the next item from, or -1 to wait. In order: the first part's, as its items come.
 * Unordered: any part whose start is known to be a record boundary (it starts its file, or the part
 * before it in its file is done), so a glob's files go on as their workers finish them.
 */
function pick(slots: Slot[], ordered: boolean): number {
  if (ordered) return slots[0].items.length > 0 ? 0 : -1;
  for (let k = 0; k < slots.length; k++) {
    const trusted = k === 0 || slots[k - 1].part.file !== slots[k].part.file;
    if (trusted && slots[k].items.length > 0) return k;
  }
  return -1;
}

/**
 * The part at `index` did not end on a record boundary: the record it left open and the next part
 * become one part. The next part's reading (if it began) is cancelled; its lines are counted again.
 */
function joinNext(slots: Slot[], index: number, byTask: Map<number, Slot>, resume: { resumeAt: number; resumeLine: number }): void {
  const [first, second] = [slots[index], slots[index + 1]];
  if (second.task !== undefined) {
    byTask.delete(second.task);
    second.worker!.post({ type: 'cancel', id: second.task });
  }
  const part = first.part.joined!(second.part, resume.resumeAt, resume.resumeLine);
  const firstLine = part.start === first.part.start ? first.firstLine : resume.resumeLine;
  slots.splice(index, 2, { part, firstLine, items: [], finished: false, bytesRead: 0 });
}

/** A widening another worker already reported (each widens its own plan) is said once, as on one thread. */
function firstWidening(warning: RunWarning, seen: Set<string>): boolean {
  if (warning.code !== 'COLUMN_WIDENED') return true;
  const key = `${warning.column}\u0000${warning.to}`;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

/** The error a worker threw, as the main thread would have thrown it. */
function revive(error: SerializedError): Error {
  if (error.code !== undefined) {
    const revived = new SluiceError(error.code as ErrorCode, error.message, (error.details ?? {}) as never);
    if (error.stack !== undefined) revived.stack = error.stack;
    return revived;
  }
  const revived = new Error(error.message);
  revived.name = error.name;
  if (error.stack !== undefined) revived.stack = error.stack;
  return revived;
}

async function waitFor(ready: Promise<void>, fatal: () => SluiceError | null, signal: AbortSignal): Promise<void> {
  const aborted = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => {});
  await Promise.race([ready, aborted]);
  const failure = fatal();
  if (failure !== null) throw failure;
}
