/** What the summary says of a run's threads (RunSummary.source.threads). */
export interface ThreadFigures {
  /** Threads that read the input: 1 when the run read on the main thread. */
  used: number;
  asked: number;
  /** Why a run asked for threads read on one (absent when it used them). */
  reason?: string;
  parts?: number;
  /** The stages run in the workers. */
  stages?: string[];
  workers?: WorkerFigures[];
}

export interface WorkerFigures {
  /** Rows the worker handed on (out of the stages it ran). */
  rows: number;
  parts: number;
  /** Time from taking a part to finishing it, waits for credit included. */
  busyMs: number;
}
