/** Peaks of the process's own memory figures, sampled during a run. */
export interface MemoryPeaks {
  /** RSS when the watch started: the idle baseline the budget comes on top of. */
  baselineRss: number;
  peakRss: number;
  peakHeapUsed: number;
  peakArrayBuffers: number;
  /** Times the process went above baseline + budget and sources were paused. */
  pressureEvents: number;
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

  constructor(
    private readonly limit: number,
    private readonly onPressure: (pressure: boolean) => void = () => {},
    private readonly intervalMs = 20,
  ) {
    const usage = process.memoryUsage();
    this.current = {
      baselineRss: usage.rss,
      peakRss: usage.rss,
      peakHeapUsed: usage.heapUsed,
      peakArrayBuffers: usage.arrayBuffers,
      pressureEvents: 0,
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
    const over = usage.rss - peaks.baselineRss > this.limit;
    if (over !== this.pressured) {
      this.pressured = over;
      if (over) peaks.pressureEvents++;
      this.onPressure(over);
    }
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
