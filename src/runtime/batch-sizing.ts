import type { MemoryBudget } from './budget.ts';

// Under 16_380: V8 allocates a JS array of more elements (a string column) in large-object space, where
// creating it costs ~1 ms and every store of a new string into it takes a write-barrier slow path; at
// 16_384 rows that was ~18% of the CSV reader's time per batch (measured for issue 3).
export const DEFAULT_BATCH_ROWS = 16_000;
/**
 * Rows of the first batch, before bytes per row are measured: small, so that a file of very wide rows
 * does not build one huge batch before the budget has a say. Later batches grow to `batchRows`.
 */
export const FIRST_BATCH_ROWS = 1024;
/** Batches of one pipeline the budget should fit at once: source, stages and sink each holding one, and slack. */
export const BATCHES_IN_FLIGHT = 8;
// Rows wider than a batch's share of the budget go one per batch rather than overflow it.
const MIN_BATCH_ROWS = 1;
/** Under memory pressure batches shrink to this fraction of their share, so the process can get back under. */
const PRESSURE_SHRINK = 4;

/**
 * Bytes a running pipeline holds whatever its batch size: read buffers and read-ahead (the CSV reader's
 * two 1 MB buffers), the output stream's buffer and text chunks, zlib's windows, the runtime's objects.
 * Not reserved batch by batch, so counted here: 16 pipelines at once under 128MB went 239 MB above the
 * idle process, some 7 MB each beyond their batches.
 */
export const PIPELINE_FIXED_BYTES = 8 * 1024 * 1024;
/** Of a budget, at most this part goes to pipelines' fixed costs; the rest is for batches and stages' state. */
const FIXED_PART = 0.5;

/** Pipelines a budget holds at once: their fixed costs within its FIXED_PART, and always one. */
export function maxConcurrentPipelines(memory: number): number {
  return Math.max(1, Math.floor((memory * FIXED_PART) / PIPELINE_FIXED_BYTES));
}

export interface ShareOptions {
  /** Pipelines reserving from the same budget at once. @default 1 */
  sharing?: number;
  /** The process is above its budget by its own measure (RSS). @default false */
  underPressure?: boolean;
}

/**
 * Bytes one batch may take: its pipeline's share of what the budget leaves after the fixed costs of the
 * pipelines sharing it (see PIPELINE_FIXED_BYTES), less under memory pressure.
 */
export function batchShare(memory: number, { sharing = 1, underPressure = false }: ShareOptions = {}): number {
  const runs = Math.max(1, sharing);
  const fixed = Math.min(memory * FIXED_PART, runs * PIPELINE_FIXED_BYTES);
  return (memory - fixed) / (BATCHES_IN_FLIGHT * runs * (underPressure ? PRESSURE_SHRINK : 1));
}

/**
 * Rows per batch once bytes per row are known: the batch's share of the budget over the row's bytes,
 * between one row and `maxRows`. The one formula for the run and for `etl profile`'s suggestion.
 */
export function batchRowsFor(memory: number, bytesPerRow: number, options: ShareOptions & { maxRows?: number } = {}): number {
  const maxRows = options.maxRows ?? DEFAULT_BATCH_ROWS;
  return Math.max(MIN_BATCH_ROWS, Math.min(maxRows, Math.floor(batchShare(memory, options) / bytesPerRow)));
}

/** One run's batch size: measures bytes per row as batches arrive and sizes the next batch to its share. */
export class BatchSizer {
  bytesPerRow = 0;
  /** Rows per batch, last chosen (the summary shows it). */
  rowsPerBatch: number;
  private readonly maxRows: number;

  private readonly budget: MemoryBudget;
  constructor(
    budget: MemoryBudget,
    configuredRows: number | undefined,
  ) {
    this.budget = budget;
    this.maxRows = configuredRows ?? DEFAULT_BATCH_ROWS;
    this.rowsPerBatch = configuredRows ?? Math.min(FIRST_BATCH_ROWS, DEFAULT_BATCH_ROWS);
  }

  /** Bytes one batch of this run may take now. */
  share(): number {
    return batchShare(this.budget.limit, { sharing: this.budget.runs, underPressure: this.budget.underPressure });
  }

  /** A batch came from the source: its bytes per row move the estimate (recent batches weigh more). */
  observe(rows: number, bytes: number): void {
    if (rows === 0) return;
    const perRow = bytes / rows;
    this.bytesPerRow = this.bytesPerRow === 0 ? perRow : 0.7 * this.bytesPerRow + 0.3 * perRow;
  }

  /** Rows the source's next batch should hold. */
  next(): number {
    if (this.bytesPerRow > 0) {
      this.rowsPerBatch = batchRowsFor(this.budget.limit, this.bytesPerRow, {
        sharing: this.budget.runs,
        underPressure: this.budget.underPressure,
        maxRows: this.maxRows,
      });
    }
    return this.rowsPerBatch;
  }
}
