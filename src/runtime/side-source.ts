import type { Batch } from '../batch/batch.ts';
import type { RunContext, Source, SourceContext } from '../contracts/contracts.ts';
import type { RunAccounting } from './accounting.ts';
import { BatchSizer } from './batch-sizing.ts';
import type { Rejects } from './rejects.ts';
import { splitToFit } from './split-to-fit.ts';
import type { SideSourceSummary, StageSummary } from './summary.ts';

/** What a stage's other source is read with: the run's context, rejects and reservations. */
export interface SideRun {
  base: RunContext;
  rejects: Rejects;
  accounting: RunAccounting;
}

/**
 * A stage's other source (`context.readSource`, a join's build side), read the way the run reads its
 * own: batches sized by a sizer of its own (its rows are not the main source's), each reserved from the
 * budget before it is handed over and held by the stage until it asks for the next one, rows that break
 * its schema rejected with the stage named. `--limit` is the main source's: the other side is read whole,
 * or a join over the first rows would miss their matches.
 */
export async function* readSideSource(source: Source<any>, run: SideRun, stage: StageSummary, holding: { batches: number }, columns?: readonly string[]): AsyncGenerator<Batch> {
  const { base, rejects, accounting } = run;
  const sizer = new BatchSizer(accounting.budget, undefined);
  const side: SideSourceSummary = { kind: source.kind, location: source.location, rowsRead: 0, rejected: 0, bytesRead: 0 };
  stage.sideSource = side;
  const context: SourceContext = {
    ...base,
    batchRows: () => sizer.next(),
    async reject(violation, location) {
      const before = rejects.count;
      try {
        await rejects.reject(violation, { ...location, pipeline: base.pipeline, stage: stage.name });
      } finally {
        side.rejected += rejects.count - before;
      }
    },
    progress(bytesRead) {
      side.bytesRead = bytesRead;
    },
    engine() {},
    // The stage's choice of columns (a join's keys and `select`); the source reads only those.
    columns,
    columnsRead(read, all) {
      if (read.length < all.length) side.columns = { read: [...read], of: all.length };
    },
  };
  const limit = accounting.budget.limit;
  for await (const sourced of source.read(context)) {
    const sourcedBytes = sourced.byteSize;
    sizer.observe(sourced.length, sourcedBytes);
    const pieces = sourcedBytes > limit ? splitToFit(sourced, limit, sizer.share(), base.pipeline) : [sourced];
    for (const batch of pieces) {
      const bytes = pieces.length === 1 ? sourcedBytes : batch.byteSize;
      // Under memory pressure the run's own source waits for batches in flight to drain; this one must
      // not, since the stage reading it holds them until it has read it all (see tryReserveRoom).
      if (!accounting.tryReserveRoom(bytes)) await accounting.reserve(bytes);
      holding.batches += bytes;
      accounting.notePeak();
      side.rowsRead += batch.length;
      try {
        yield batch;
      } finally {
        holding.batches -= bytes;
        accounting.release(bytes);
      }
    }
  }
}
