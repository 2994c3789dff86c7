import { SluiceError } from '../core/errors.ts';
import type { RunAccounting } from './accounting.ts';

/**
 * Fails a run that waits on itself: while the budget is spent, something waits for memory and nothing
 * has been given back for `timeoutMs`, calls `stall` with a NO_PROGRESS error naming the holder of the
 * most bytes (a stage that keeps every batch). Batches a stage drops give their bytes back, so a run
 * that reads much and writes nothing still makes progress. Returns the function that stops the watch.
 */
export function watchForStall(accounting: RunAccounting, pipeline: string, timeoutMs: number, stall: (error: SluiceError) => void): () => void {
  const { budget } = accounting;
  const timer = setInterval(() => {
    if (budget.waiting > 0 && budget.idleFor > timeoutMs && accounting.reservedByRun > 0) {
      const { holder, bytes } = accounting.largestHolder();
      stall(
        new SluiceError(
          'NO_PROGRESS',
          `No progress for ${Math.round(timeoutMs / 1000)}s while the memory budget is spent: stage ${holder} holds ${bytes} bytes of batches it has not passed on and memory it reserved.`,
          { stage: holder, pipeline },
        ),
      );
    }
  }, Math.min(1000, Math.max(10, timeoutMs / 4)));
  // Not unref'd: while a run waits on itself (a stage holding every batch), this timer is what keeps the
  // process alive long enough to fail with NO_PROGRESS instead of exiting with the run unsettled.
  return () => clearInterval(timer);
}
