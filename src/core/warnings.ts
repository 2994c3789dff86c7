/**
 * Warnings are data, as errors are: a stable `code` for programs (`--report`, the scheduler, tests),
 * the facts it is about as fields, and a `message` for people. A run keeps them in its summary and
 * prints each one's message; it never fails for one.
 */
import type { ErrorLocation } from './errors.ts';

export type WarningCode =
  /** An inferred column met a value its dtype cannot hold and now stores a wider one (`from` → `to`). */
  | 'COLUMN_WIDENED'
  /** An inferred column had no value in the sample, so it is read as text whatever comes later. */
  | 'COLUMN_ALL_NULL_IN_SAMPLE'
  /** `incremental: true` in a run without a state store: everything is read. */
  | 'INCREMENTAL_WITHOUT_STATE'
  /** The process went above its memory budget; sources paused and batches shrank. */
  | 'MEMORY_PRESSURE'
  /** A stop (signal, timeout) came once the sink had committed: the run finished and saved its state. */
  | 'STOPPED_AFTER_COMMIT'
  /** `run([...], { concurrency })` asked for more pipelines at once than the budget holds the fixed costs of: fewer ran at a time. */
  | 'CONCURRENCY_CAPPED'
  /** `threads` above 1 asked, and the input was read on the main thread (the message says why). */
  | 'THREADS_NOT_USED'
  /** The run's outcome could not be written to the history. */
  | 'HISTORY_NOT_RECORDED'
  /** A warning from user code (a custom stage, source or sink). */
  | 'USER';

export interface RunWarning {
  code: WarningCode;
  /** What happened, in plain words, with where. */
  message: string;
  /** The column it is about. */
  column?: string;
  /** For COLUMN_WIDENED: the dtype before and after. */
  from?: string;
  to?: string;
  /** The value that caused it, as read. */
  value?: string;
  /** Where in the input (file and line, or query). */
  location?: ErrorLocation;
}
