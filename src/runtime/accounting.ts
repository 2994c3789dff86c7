import type { MemoryBudget, ReservationKind } from './budget.ts';
import type { MemoryWatch } from './memory-watch.ts';

/** What one holder (a stage, the sink) has reserved: bytes of batches it took in, and its own state. */
interface Holding {
  batches: number;
  state: number;
}

/**
 * One run's reservations from the memory budget (which other runs may share): what the run has
 * reserved in all, which batch carries which bytes, and who holds what, for the summary's "held at
 * the peak" and the stall watchdog's blame. Everything still reserved is given back by `releaseAll`
 * when the run ends, however it ends.
 */
export class RunAccounting {
  /** Bytes this run has reserved and not given back. */
  reservedByRun = 0;
  /** Rows handed to the sink so far (the time series' sink throughput). */
  rowsToSink = 0;
  /** Bytes each holder held at the moment the budget's reservation peaked. */
  heldAtPeak: Record<string, number> = {};
  private lastPeak = 0;
  // The reservation each batch carries on its way to the sink: the bytes of the source batch(es) it was
  // made from. Weak and per run: a batch dropped anywhere takes its entry with it.
  private readonly carried = new WeakMap<object, number>();
  private readonly holdings = new Map<string, Holding>();

  readonly budget: MemoryBudget;
  private readonly watch: MemoryWatch;
  private readonly signal: AbortSignal;
  constructor(
    budget: MemoryBudget,
    watch: MemoryWatch,
    signal: AbortSignal,
    holders: readonly string[],
  ) {
    this.budget = budget;
    this.watch = watch;
    this.signal = signal;
    for (const holder of holders) this.holdings.set(holder, { batches: 0, state: 0 });
  }

  /** Waits until `bytes` fit in the budget (or the run stops), then takes them. */
  async reserve(bytes: number, kind: ReservationKind = 'batch'): Promise<void> {
    await this.budget.reserve(bytes, this.signal, kind);
    this.reservedByRun += bytes;
    this.notePeak();
  }

  /** Takes `bytes` only if they fit now. */
  tryReserve(bytes: number): boolean {
    if (this.signal.aborted || !this.budget.tryReserve(bytes, 'state')) return false;
    this.reservedByRun += bytes;
    this.notePeak();
    return true;
  }

  /** Takes `bytes` if they fit under the limit now, pressure or not (see MemoryBudget.tryReserveRoom). */
  tryReserveRoom(bytes: number): boolean {
    if (this.signal.aborted || !this.budget.tryReserveRoom(bytes)) return false;
    this.reservedByRun += bytes;
    this.notePeak();
    return true;
  }

  release(bytes: number, kind: ReservationKind = 'batch'): void {
    if (bytes <= 0) return;
    this.reservedByRun -= bytes;
    this.budget.release(bytes, kind);
    this.watch.released(bytes);
  }

  /** The run is over: give back whatever is still reserved (batches in flight, stages' state). */
  releaseAll(): void {
    let state = 0;
    for (const holding of this.holdings.values()) state += holding.state;
    if (state > 0) this.release(Math.min(state, this.reservedByRun), 'state');
    if (this.reservedByRun > 0) this.release(this.reservedByRun);
  }

  /** A batch now carries `bytes` more of the run's reservation. */
  attach(batch: object, bytes: number): void {
    this.carried.set(batch, (this.carried.get(batch) ?? 0) + bytes);
  }

  /** The reservation a batch carries, handed to whoever takes the batch (the batch carries none after). */
  detach(batch: object): number {
    const bytes = this.carried.get(batch) ?? 0;
    this.carried.delete(batch);
    return bytes;
  }

  holding(holder: string): Holding {
    let holding = this.holdings.get(holder);
    if (holding === undefined) this.holdings.set(holder, (holding = { batches: 0, state: 0 }));
    return holding;
  }

  /** The holder of the most bytes, for a stall's error. */
  largestHolder(): { holder: string; bytes: number } {
    let largest = { holder: 'unknown', bytes: 0 };
    for (const [holder, { batches, state }] of this.holdings) {
      if (batches + state > largest.bytes) largest = { holder, bytes: batches + state };
    }
    return largest;
  }

  /** Call after a holder's bytes grew: remembers who held what when the budget's reservation peaked. */
  notePeak(): void {
    if (this.budget.reserved < this.lastPeak) return;
    this.lastPeak = this.budget.reserved;
    const held: Record<string, number> = {};
    for (const [holder, { batches, state }] of this.holdings) held[holder] = batches + state;
    this.heldAtPeak = held;
  }
}
