import { SluiceError } from '../core/errors.ts';
import { formatBytes } from '../core/bytes.ts';

/**
 * A memory budget in bytes. Sources reserve a batch's bytes before handing it on and the run gives
 * them back once the sink has written the batch; a source that cannot reserve waits (backpressure).
 * One budget can be shared by many pipelines running at once.
 */
export class MemoryBudget {
  reserved = 0;
  peakReserved = 0;
  /** Set while the process is above the budget by its own measure (RSS); sources wait for it to clear. */
  private pressure = false;
  private readonly waiters: { bytes: number; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private lastProgress = Date.now();

  constructor(readonly limit: number) {}

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
  async reserve(bytes: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.take(bytes);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = { bytes, resolve, reject };
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

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.reserved -= bytes;
    if (this.reserved < 0) this.reserved = 0;
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
    if (this.pressure && this.reserved > 0) return false;
    return this.reserved + bytes <= this.limit || this.reserved === 0;
  }

  private take(bytes: number): void {
    this.reserved += bytes;
    if (this.reserved > this.peakReserved) this.peakReserved = this.reserved;
  }

  private drain(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0].bytes)) {
      const waiter = this.waiters.shift()!;
      this.take(waiter.bytes);
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
