import { SluiceError } from '../core/errors.ts';
import { formatBytes } from '../core/bytes.ts';

/**
 * What a reservation is for: a batch's bytes (given back once the sink has written it) or a stage's own
 * state (a hash table, a sort buffer: given back when the stage lets go of it or ends).
 */
export type ReservationKind = 'batch' | 'state';

/**
 * A memory budget in bytes. Sources reserve a batch's bytes before handing it on and the run gives
 * them back once the sink has written the batch; a source that cannot reserve waits (backpressure).
 * Stages reserve the state they keep from the same budget. One budget can be shared by many pipelines
 * running at once, and by the scheduled runs of a scheduler (each holding its share while it runs).
 */
export class MemoryBudget {
  reserved = 0;
  peakReserved = 0;
  /** Of `reserved`, bytes of stages' state rather than batches. */
  reservedForState = 0;
  /** Runs reserving from this budget now: each sizes its batches to its share. */
  runs = 0;
  /** Set while the process is above the budget by its own measure (RSS); sources wait for it to clear. */
  private pressure = false;
  private readonly waiters: { bytes: number; kind: ReservationKind; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private lastProgress = Date.now();

  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }

  get available(): number {
    return this.limit - this.reserved;
  }

  /** Milliseconds since bytes were last released. */
  get idleFor(): number {
    return Date.now() - this.lastProgress;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Waits until `bytes` fit, then takes them. A reservation that could never fit (larger than the
   * whole budget) is granted alone once nothing else is reserved, so one large batch slows a run
   * down rather than deadlocking it; callers reject records too large for the budget before this.
   */
  async reserve(bytes: number, signal?: AbortSignal, kind: ReservationKind = 'batch'): Promise<void> {
    signal?.throwIfAborted();
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.take(bytes, kind);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = { bytes, kind, resolve, reject };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /**
   * Takes `bytes` if they fit now, without waiting (and never past the limit, even on an empty budget,
   * nor under memory pressure): for a stage that spills to disk when refused.
   */
  tryReserve(bytes: number, kind: ReservationKind = 'state'): boolean {
    if (this.pressure || this.reserved + bytes > this.limit) return false;
    this.take(bytes, kind);
    return true;
  }

  /**
   * Takes `bytes` if they fit under the limit now, memory pressure or not: for batches a stage reads for
   * itself and folds into its state at once (a join's build side). Waiting for pressure to clear would
   * wait on the stage itself: the batches that would have to drain are the ones it holds while it reads.
   */
  tryReserveRoom(bytes: number): boolean {
    if (this.waiters.length > 0 || this.reserved + bytes > this.limit) return false;
    this.take(bytes, 'batch');
    return true;
  }

  release(bytes: number, kind: ReservationKind = 'batch'): void {
    if (bytes <= 0) return;
    this.reserved -= bytes;
    if (this.reserved < 0) this.reserved = 0;
    if (kind === 'state') this.reservedForState = Math.max(0, this.reservedForState - bytes);
    this.lastProgress = Date.now();
    this.drain();
  }

  /** Pause (true) or resume (false) reservations because the process itself is over budget. */
  setPressure(pressure: boolean): void {
    this.pressure = pressure;
    if (!pressure) this.drain();
  }

  get underPressure(): boolean {
    return this.pressure;
  }

  /** Fails every waiting reservation (a run that gave up on progress). */
  failWaiters(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  private fits(bytes: number): boolean {
    // Under pressure, wait for batches in flight to be written: that frees memory. Stages' state is not
    // freed by waiting (the stage needs more input to finish), so it does not hold the source back.
    if (this.pressure && this.reserved - this.reservedForState > 0) return false;
    return this.reserved + bytes <= this.limit || this.reserved === 0;
  }

  private take(bytes: number, kind: ReservationKind): void {
    this.reserved += bytes;
    if (kind === 'state') this.reservedForState += bytes;
    if (this.reserved > this.peakReserved) this.peakReserved = this.reserved;
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0].bytes)) {
      const waiter = this.waiters.shift()!;
      this.take(waiter.bytes, waiter.kind);
      waiter.resolve();
    }
  }
}

/** The smallest budget a run can work in: room for a few batches of a few rows. */
export const MINIMUM_BUDGET = 4 * 1024 * 1024;

export function checkBudget(limit: number): void {
  if (limit < MINIMUM_BUDGET) {
    throw new SluiceError(
      'MEMORY_BUDGET_TOO_SMALL',
      `A memory budget of ${formatBytes(limit)} is too small to run: Sluice needs at least ${formatBytes(MINIMUM_BUDGET)} (pass --memory 4MB or more).`,
    );
  }
}
