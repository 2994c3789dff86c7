import type { ThreadFigures } from './threads/figures.ts';
import type { SluiceErrorDetails } from '../core/errors.ts';
import type { RunWarning } from '../core/warnings.ts';

export interface StageSummary {
  name: string;
  rowsIn: number;
  rowsOut: number;
  /** Rows the stage had taken in and not yet passed on or dropped when the run stopped (failed runs). */
  rowsInFlight?: number;
  /** Bytes of batches the stage had taken in and not yet passed on, at their peak. */
  peakBytesHeld: number;
  /** Bytes the stage reserved for its own state through `context.memory`, at their peak. */
  peakStateBytes: number;
  /** Stages that hold state and say so (`context.report`): groups held at most and output, spills. */
  peakGroups?: number;
  groups?: number;
  /** A join: rows of its build side kept (no null key), and the source it read them from. */
  buildRows?: number;
  sideSource?: SideSourceSummary;
  spilledBytes?: number;
  spilledPartitions?: number;
  /** A sort: rows held at most, and sorted runs written (merge passes included). */
  peakRows?: number;
  spilledRuns?: number;
  spillMs?: number;
}

/** A run's memory and throughput over time (runtime/time-series.ts), as the report carries it: one array per figure, index i for point i (compact in JSON). */
export interface RunSamples {
  /** The time between points, after downsampling. */
  intervalMs: number;
  /** Milliseconds since the run started. */
  t: number[];
  rss: number[];
  heapUsed: number[];
  /** Bytes reserved from the budget (all the budget's runs). */
  reserved: number[];
  budget: number;
  /** Times the process went above baseline + budget and sources paused, up to each point. */
  pressureEvents: number[];
  source: { rows: number[]; bytes: number[] };
  /** Per stage (and `sink`): bytes held (batches taken in and state), rows in and out up to each point. */
  stages: Record<string, { held: number[]; rowsIn: number[]; rowsOut: number[]; spilledBytes: number[] }>;
}

/** The other source a stage read (a join's build side): what it gave. */
export interface SideSourceSummary {
  kind: string;
  location: string;
  /** Rows handed to the stage (rejected rows are not among them). */
  rowsRead: number;
  /** Rows that broke its schema: in the run's rejects and in `rows.rejected`, not in `rows.read`. */
  rejected: number;
  bytesRead: number;
  /** The columns it read, of how many it has, when the stage needed fewer (projection push-down). */
  columns?: { read: string[]; of: number };
}

/** What a run used and did: the summary people read and `--report` writes for machines. */
export interface RunSummary {
  pipeline: string;
  status: 'succeeded' | 'failed';
  startedAt: string;
  endedAt: string;
  elapsedMs: number;
  /** `engineDetail`: how the reader went, e.g. the share of CSV records it read in one pass. */
  source: {
    kind: string;
    location: string;
    engine?: string;
    engineDetail?: string;
    /**
     * The columns the source read (projection push-down: only those the stages and the sink use), of
     * the `of` it would have read without it. Absent when the source does not say.
     */
    columns?: { read: string[]; of: number };
    /**
     * Worker threads, when `threads` above 1 was asked: how many read the input (1, with `reason`, when
     * none did), the parts they shared, the stages they ran, and each worker's rows out, parts and busy time.
     */
    threads?: ThreadFigures;
  };
  sink: { kind: string; location: string; engine?: string };
  rows: {
    read: number;
    written: number;
    /** Removed by stages (filter, take, …). */
    dropped: number;
    rejected: number;
    /**
     * Failed runs only: rows read but neither written, dropped nor rejected when the run stopped (in a
     * stage or the sink). Rows of a batch the source had not finished are not counted as read.
     */
    inFlight?: number;
  };
  stages: StageSummary[];
  input: { bytesRead: number; totalBytes?: number };
  rowsPerSecond: number;
  megabytesPerSecond: number;
  memory: {
    budget: number;
    peakReserved: number;
    baselineRss: number;
    peakRss: number;
    peakHeapUsed: number;
    peakArrayBuffers: number;
    /** Times the process itself went above baseline + budget and sources paused. */
    pressureEvents: number;
    /** Full garbage collections asked for because the process neared its budget (see MemoryWatch). */
    collections: number;
    /** Bytes held per stage at the moment of the peak reservation. */
    heldAtPeak: Record<string, number>;
  };
  batches: {
    count: number;
    /** Bytes of the source's batches as typed columns. */
    columnarBytes: number;
    /** Bytes the same rows would take as one JS object per row. */
    objectBytes: number;
    /** objectBytes / columnarBytes. */
    savingRatio: number;
    /**
     * The batch size the run chose last: the most rows a batch may hold. A batch holds fewer when the
     * input runs out (a 60-row file is one batch of 60 under a size of 1024): see `meanRows`.
     */
    rowsPerBatch: number;
    /** Rows the source's batches held on average (rows handed on / count): what the summary prints. */
    meanRows: number;
  };
  /** Memory and throughput over time, a point about each second (downsampled past 512 points). */
  samples: RunSamples;
  rejectsPath?: string;
  /** Each with a stable `code`, its facts and a `message` for people (what the printed summary shows). */
  warnings: RunWarning[];
  error?: { code: string; message: string } & Omit<SluiceErrorDetails, 'cause'>;
  dryRun: boolean;
}
