import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Peaks of the process's own memory figures, sampled during a run. */
export interface MemoryPeaks {
  /** RSS when the watch started: the idle baseline the budget comes on top of. */
  baselineRss: number;
  peakRss: number;
  peakHeapUsed: number;
  peakArrayBuffers: number;
  /** Times the process went above baseline + budget and sources were paused. */
  pressureEvents: number;
  /** Full garbage collections the watch asked for because the process neared its budget. */
  collections: number;
}

/** Share of the budget above which the watch asks V8 for a full collection (at most once per `COLLECT_EVERY_MS`). */
const COLLECT_AT = 0.75;
const COLLECT_EVERY_MS = 1000;
/** Bytes of batches given back between two young-generation collections asked for (see `released`). */
const RELEASED_PER_SCAVENGE = 4 * 1024 * 1024;

let collector: (() => void) | null | undefined;

/**
 * V8's full collection, when it can be had: `global.gc` under --expose-gc, else the flag set at run
 * time (a fresh context then sees `gc`). V8 grows its heap for throughput and lets garbage stand
 * until it needs room; on a memory budget we would rather pay a collection than let RSS grow past it.
 */
function fullCollection(): (() => void) | null {
  if (collector !== undefined) return collector;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return (collector = exposed);
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collector = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collector = null;
  }
  return collector;
}

/**
 * Samples RSS, heap and ArrayBuffer memory every `intervalMs`. When RSS goes above baseline + limit
 * (the estimates were wrong), calls `onPressure(true)` until it is back under, then `onPressure(false)`.
 * One watch can serve several runs: each run reads the peaks it saw between `mark()` and `peaks()`.
 */
export class MemoryWatch {
  private timer: NodeJS.Timeout | undefined;
  private current: MemoryPeaks;
  private pressured = false;
  private lastCollection = 0;
  private releasedSinceScavenge = 0;

  private readonly limit: number;
  private readonly onPressure: (pressure: boolean) => void;
  private readonly intervalMs: number;
  constructor(
    limit: number,
    onPressure: (pressure: boolean) => void = () => {},
    intervalMs = 20,
  ) {
    this.limit = limit;
    this.onPressure = onPressure;
    this.intervalMs = intervalMs;
    const usage = process.memoryUsage();
    this.current = {
      baselineRss: usage.rss,
      peakRss: usage.rss,
      peakHeapUsed: usage.heapUsed,
      peakArrayBuffers: usage.arrayBuffers,
      pressureEvents: 0,
      collections: 0,
    };
  }

  start(): this {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const usage = process.memoryUsage();
    const peaks = this.current;
    if (usage.rss > peaks.peakRss) peaks.peakRss = usage.rss;
    if (usage.heapUsed > peaks.peakHeapUsed) peaks.peakHeapUsed = usage.heapUsed;
    if (usage.arrayBuffers > peaks.peakArrayBuffers) peaks.peakArrayBuffers = usage.arrayBuffers;
    const above = usage.rss - peaks.baselineRss;
    if (above > this.limit * COLLECT_AT && Date.now() - this.lastCollection > COLLECT_EVERY_MS) {
      const gc = fullCollection();
      if (gc !== null) {
        this.lastCollection = Date.now();
        peaks.collections++;
        gc();
      }
    }
    const over = above > this.limit;
    if (over !== this.pressured) {
      this.pressured = over;
      if (over) peaks.pressureEvents++;
      this.onPressure(over);
    }
  }

  /**
   * Batches worth `bytes` were given back to the budget. Their columns live in ArrayBuffers whose memory
   * malloc returns only when V8 collects the small JS objects holding them, and a source that makes
   * little JS garbage (typed columns) triggers a young-generation collection only every few dozen
   * batches: meanwhile tens of MB of written batches still count in RSS, more as the run goes on and
   * malloc's heap fragments (the reader's peak rose from ~118 MB on 200 MB to ~136 MB on 1 GB). So every
   * few MB given back, ask for a scavenge: it costs well under a millisecond, the young generation being
   * nearly empty of live objects, and what the budget calls free then is.
   */
  released(bytes: number): void {
    this.releasedSinceScavenge += bytes;
    if (this.releasedSinceScavenge < Math.min(RELEASED_PER_SCAVENGE, this.limit / 8)) return;
    this.releasedSinceScavenge = 0;
    const gc = fullCollection();
    if (gc !== null) (gc as (options: object) => void)({ type: 'minor' });
  }

  peaks(): MemoryPeaks {
    this.sample();
    return { ...this.current };
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.pressured) this.onPressure(false);
  }
}
