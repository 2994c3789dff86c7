import { type Batch, sourceTraceOf } from '../batch/batch.ts';
import { formatBytes } from '../core/bytes.ts';
import { SluiceError, isSluiceError } from '../core/errors.ts';
import type { RunContext, Stage, StageContext, StageMemory } from '../contracts/contracts.ts';
import { parentOf } from '../contracts/lineage.ts';
import type { RunAccounting } from './accounting.ts';
import type { Rejects } from './rejects.ts';
import { readSideSource } from './side-source.ts';
import type { StageSummary } from './summary.ts';
import type { RunTelemetry } from './telemetry.ts';
import type { TempFolders } from './temp-folders.ts';

/** Names for the summary: the stage's own, numbered when two stages share one (filter, filter#2). */
export function uniqueStageNames(stages: readonly Stage<any, any>[]): string[] {
  const seen = new Map<string, number>();
  return stages.map((stage) => {
    const base = stage.stageName ?? (stage.name || 'stage');
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}#${count}`;
  });
}

/** A batch the stage took in, with the reservation it came with, until the stage passes it on or drops it. */
interface Taken {
  batch: Batch;
  bytes: number;
  /** The stage said it holds on to it (`context.memory.keep`). */
  kept: boolean;
}

/**
 * Wraps a stage to count rows and move reservations. A batch the stage takes in is held by it; the
 * batch it yields carries the reservation on towards the sink, which gives it back once written. An
 * input the stage neither passed on nor kept when it asks for the next one was dropped (a filter that
 * kept none of its rows, a fold that keeps only what it computed): its bytes go back at once, so a stage
 * that drops more than a budget's worth of rows in a row cannot stall the source. The stage's own
 * reservations (`context.memory`) and whatever it still holds are given back when it ends, however it ends.
 */
export async function* meterStage(
  stage: Stage<any, any>,
  input: AsyncIterable<Batch>,
  context: RunContext,
  stats: StageSummary,
  accounting: RunAccounting,
  temp: TempFolders,
  rejects: Rejects,
  telemetry?: RunTelemetry,
): AsyncGenerator<Batch> {
  const name = stats.name;
  const holding = accounting.holding(name);
  // Rows taken in since the stage last yielded: in flight, not dropped, if the run stops now.
  let pendingRows = 0;
  // Reservations of the batches taken in and not passed on, in intake order. An array emptied in place,
  // not a Map: Map.clear() (and the rehash when a Map grows or shrinks) leaves the old hash table pointing
  // at its successor, its entries still in it. Once a full GC has moved the Map's table to the old
  // generation, the table retired at the next batch is garbage only the next full GC can see, but until
  // then it keeps its successor and the batches listed in it alive through every scavenge; they are
  // promoted, and so is the table after them: from the run's first full GC on, every batch went to the
  // old generation and RSS rose by ~50 MB for the rest of the run (issue 4).
  const taken: Taken[] = [];
  const dropTaken = (keepKept: boolean) => {
    let kept = 0;
    let dropped = 0;
    for (const entry of taken) {
      if (keepKept && entry.kept) taken[kept++] = entry;
      else dropped += entry.bytes;
    }
    taken.length = kept;
    holding.batches -= dropped;
    accounting.release(dropped);
  };
  const memory = stageMemory(name, context.pipeline, accounting, holding, stats, (batch) => {
    const entry = taken.find((candidate) => candidate.batch === batch);
    if (entry !== undefined) entry.kept = true;
  });
  const stageContext: StageContext = {
    ...context,
    stage: name,
    memory,
    tempDir: () => temp.folderFor(name),
    report: (figures) => Object.assign(stats, figures),
    readSource: (source, columns) => readSideSource(source, { base: context, rejects, accounting }, stats, holding, columns),
  };

  async function* intake(): AsyncGenerator<Batch> {
    for await (const batch of input) {
      const bytes = accounting.detach(batch);
      const known = taken.find((entry) => entry.batch === batch);
      if (known === undefined) taken.push({ batch, bytes, kept: false });
      else known.bytes += bytes;
      holding.batches += bytes;
      if (holding.batches > stats.peakBytesHeld) stats.peakBytesHeld = holding.batches;
      accounting.notePeak();
      stats.rowsIn += batch.length;
      pendingRows += batch.length;
      telemetry?.batch(name, 'in', batch.length);
      yield batch;
      // The stage asks for its next input: what it took and neither passed on nor kept, it dropped.
      if (taken.length > 0) dropTaken(true);
    }
  }
  try {
    for await (const output of stage(intake(), stageContext)) {
      stats.rowsOut += output.length;
      pendingRows = 0;
      telemetry?.batch(name, 'out', output.length);
      // By default an output carries every reservation the stage holds. When the stage says which
      // input it was made from (mapBatches), or passes an input on as is, it carries that input's and
      // those of older inputs (dropped, since a later one made it out), and the rest stay held.
      const from = parentOf(output) ?? output;
      let carried = 0;
      const index = taken.findIndex((entry) => entry.batch === from);
      if (index >= 0) {
        for (let k = 0; k <= index; k++) carried += taken[k].bytes;
        taken.splice(0, index + 1);
      } else {
        for (const entry of taken) carried += entry.bytes;
        taken.length = 0;
      }
      holding.batches -= carried;
      accounting.attach(output, carried);
      yield output;
    }
    pendingRows = 0; // the input ended and the stage is done: what it did not pass on, it dropped
  } catch (error) {
    if (isSluiceError(error) || context.signal.aborted) throw error;
    throw new SluiceError('STAGE_FAILED', `stage ${name} failed: ${error instanceof Error ? error.message : String(error)}`, {
      stage: name,
      pipeline: context.pipeline,
      cause: error,
    });
  } finally {
    stats.rowsInFlight = pendingRows;
    dropTaken(false);
    memory.release(memory.held);
    telemetry?.stageEnded(stats);
  }
}

/**
 * Gives a batch's bytes back when the sink asks for the next one: it has written this one by then. A
 * batch with a source trace tells `written` the state of its last row: what the sink commits is what
 * it took, not what the source read ahead or a `take` cut off.
 */
export async function* meterSink(
  input: AsyncIterable<Batch>,
  accounting: RunAccounting,
  written?: (state: Readonly<Record<string, unknown>>) => void,
  telemetry?: RunTelemetry,
): AsyncGenerator<Batch> {
  const holding = accounting.holding('sink');
  for await (const batch of input) {
    const trace = written === undefined || batch.length === 0 ? undefined : sourceTraceOf(batch);
    if (trace !== undefined) written!(trace.stateAt(trace.rows[batch.length - 1]));
    const bytes = accounting.detach(batch);
    holding.batches = bytes;
    accounting.rowsToSink += batch.length;
    telemetry?.batch('sink', 'in', batch.length);
    try {
      yield batch;
    } finally {
      holding.batches = 0;
      accounting.release(bytes);
    }
  }
}

/** `context.memory` of one stage: its reservations of state from the run's budget. */
function stageMemory(
  stage: string,
  pipeline: string,
  accounting: RunAccounting,
  holding: { state: number },
  stats: StageSummary,
  keep: (batch: Batch<any>) => void,
): StageMemory {
  const check = (bytes: number) => {
    if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) {
      throw new SluiceError('INVALID_OPTION', `stage ${stage}: expected bytes to reserve or release to be a number from 0 up; got ${bytes}.`, { stage, pipeline });
    }
  };
  const checkFits = (bytes: number) => {
    if (bytes > accounting.budget.limit) {
      throw new SluiceError(
        'MEMORY_BUDGET_TOO_SMALL',
        `stage ${stage} asked to reserve ${formatBytes(bytes)} at once, more than the whole memory budget of ${formatBytes(accounting.budget.limit)}; raise --memory or reserve in smaller steps.`,
        { stage, pipeline },
      );
    }
  };
  const grew = (bytes: number) => {
    holding.state += bytes;
    if (holding.state > stats.peakStateBytes) stats.peakStateBytes = holding.state;
    accounting.notePeak();
  };
  return {
    async reserve(bytes) {
      check(bytes);
      checkFits(bytes);
      if (bytes === 0) return;
      await accounting.reserve(bytes, 'state');
      grew(bytes);
    },
    tryReserve(bytes) {
      check(bytes);
      if (!accounting.tryReserve(bytes)) return false;
      grew(bytes);
      return true;
    },
    release(bytes) {
      const amount = Math.min(Math.max(0, bytes), holding.state);
      if (!(amount > 0)) return;
      holding.state -= amount;
      accounting.release(amount, 'state');
    },
    get held() {
      return holding.state;
    },
    keep,
  };
}
