/**
 * A run's memory and throughput over time, for the `--report` (JSON and HTML): one point a second,
 * bounded — when the points reach {@link MAX_POINTS}, neighbours are merged in pairs and the interval
 * doubles, so an hour-long run and an eight-hour one both keep at most that many (a few hundred KB in
 * JSON at the most).
 *
 * Memory figures of a point are the highest of its interval where the run's peak fell in it (the
 * budget and the memory watch keep peaks that only grow: a peak that rose since the last point rose
 * during this interval), else the value when the point was taken. So the series' maxima are the
 * summary's peaks, and the chart's highest point is the number the summary prints.
 *
 * Counts (rows, bytes) are cumulative: rates are differences between points.
 */
import type { RunAccounting } from './accounting.ts';
import type { MemoryPeaks } from './memory-watch.ts';
import type { SourceStats } from './meter-source.ts';
import type { RunSamples, StageSummary } from './summary.ts';

export type { RunSamples } from './summary.ts';

/** Points kept at most; beyond, pairs are merged. */
export const MAX_POINTS = 512;
const FIRST_INTERVAL_MS = 1000;

/** A run's figures now, for a live view (`etl top`): what {@link RunOptions.onSample} receives each second. */
export interface LiveSample {
  pipeline: string;
  startedAt: string;
  elapsedMs: number;
  rss: number;
  heapUsed: number;
  reserved: number;
  budget: number;
  source: { rows: number; bytes: number; rowsPerSecond: number };
  /** Each stage and the sink: bytes held now, rows so far, rows out per second over the last interval. */
  stages: { name: string; held: number; rowsIn: number; rowsOut: number; rowsPerSecond: number }[];
}

export interface SeriesInputs {
  startedAt: Date;
  accounting: RunAccounting;
  peaks: () => MemoryPeaks;
  source: SourceStats;
  stages: readonly StageSummary[];
  /** Rows handed to the sink so far. */
  sinkRows: () => number;
  pipeline: string;
  /** Called after each point with the run's figures now. */
  onSample?: (sample: LiveSample) => void;
}

export class RunTimeSeries {
  private readonly samples: RunSamples;
  private lastPeakRss = 0;
  private lastPeakHeap = 0;
  private lastPeakReserved = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;

  private readonly inputs: SeriesInputs;
  constructor(inputs: SeriesInputs) {
    this.inputs = inputs;
    const stages: RunSamples['stages'] = {};
    for (const stage of inputs.stages) stages[stage.name] = { held: [], rowsIn: [], rowsOut: [], spilledBytes: [] };
    stages['sink'] = { held: [], rowsIn: [], rowsOut: [], spilledBytes: [] };
    this.samples = {
      intervalMs: FIRST_INTERVAL_MS,
      t: [],
      rss: [],
      heapUsed: [],
      reserved: [],
      budget: inputs.accounting.budget.limit,
      pressureEvents: [],
      source: { rows: [], bytes: [] },
      stages,
    };
  }

  /** Takes a point now and one every interval until {@link stop}. */
  start(): this {
    this.point();
    // A timer each second rather than one per interval: the interval grows as the series is merged.
    this.timer = setInterval(() => {
      if (Date.now() - this.inputs.startedAt.getTime() >= this.nextAt) this.point();
    }, FIRST_INTERVAL_MS);
    this.timer.unref();
    return this;
  }

  /** The last point, with the peaks the summary reports, and the series. */
  stop(finalPeaks: MemoryPeaks): RunSamples {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.point(finalPeaks);
    return this.samples;
  }

  private point(given?: MemoryPeaks): void {
    const { accounting, source, stages, startedAt } = this.inputs;
    const samples = this.samples;
    const peaks = given ?? this.inputs.peaks();
    const usage = process.memoryUsage();
    const budget = accounting.budget;
    samples.t.push(Date.now() - startedAt.getTime());
    samples.rss.push(peaks.peakRss > this.lastPeakRss ? peaks.peakRss : usage.rss);
    samples.heapUsed.push(peaks.peakHeapUsed > this.lastPeakHeap ? peaks.peakHeapUsed : usage.heapUsed);
    samples.reserved.push(budget.peakReserved > this.lastPeakReserved ? budget.peakReserved : budget.reserved);
    this.lastPeakRss = peaks.peakRss;
    this.lastPeakHeap = peaks.peakHeapUsed;
    this.lastPeakReserved = budget.peakReserved;
    samples.pressureEvents.push(peaks.pressureEvents);
    samples.source.rows.push(source.rowsSourced);
    samples.source.bytes.push(source.bytesRead);
    for (const stage of stages) {
      const series = samples.stages[stage.name];
      const holding = accounting.holding(stage.name);
      series.held.push(holding.batches + holding.state);
      series.rowsIn.push(stage.rowsIn);
      series.rowsOut.push(stage.rowsOut);
      series.spilledBytes.push(stage.spilledBytes ?? 0);
    }
    const sink = samples.stages['sink'];
    const sinkHolding = accounting.holding('sink');
    const sinkRows = this.inputs.sinkRows();
    sink.held.push(sinkHolding.batches + sinkHolding.state);
    sink.rowsIn.push(sinkRows);
    sink.rowsOut.push(sinkRows);
    sink.spilledBytes.push(0);
    if (samples.t.length >= MAX_POINTS) downsample(samples);
    this.nextAt = samples.t[samples.t.length - 1] + samples.intervalMs;
    if (this.inputs.onSample !== undefined) {
      try {
        this.inputs.onSample(this.live(usage));
      } catch {
        // A live view that cannot keep up (its folder gone, a full disk) must not fail the run it watches.
      }
    }
  }

  /** The newest point, with rates over the interval before it. */
  private live(usage: NodeJS.MemoryUsage): LiveSample {
    const samples = this.samples;
    const last = samples.t.length - 1;
    const seconds = last > 0 ? Math.max(1, samples.t[last] - samples.t[last - 1]) / 1000 : 1;
    const rate = (values: number[]) => (last > 0 ? Math.round((values[last] - values[last - 1]) / seconds) : 0);
    return {
      pipeline: this.inputs.pipeline,
      startedAt: this.inputs.startedAt.toISOString(),
      elapsedMs: samples.t[last],
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      reserved: this.inputs.accounting.budget.reserved,
      budget: samples.budget,
      source: { rows: samples.source.rows[last], bytes: samples.source.bytes[last], rowsPerSecond: rate(samples.source.rows) },
      stages: Object.entries(samples.stages).map(([name, stage]) => ({
        name,
        held: stage.held[last],
        rowsIn: stage.rowsIn[last],
        rowsOut: stage.rowsOut[last],
        rowsPerSecond: rate(stage.rowsOut),
      })),
    };
  }
}

/**
 * Merges points in pairs (the last one alone stays as it is): memory by the higher of the two, counts
 * and times by the later; the interval doubles.
 */
export function downsample(samples: RunSamples): void {
  const later = (values: number[]) => merge(values, (_, b) => b);
  const higher = (values: number[]) => merge(values, Math.max);
  samples.t = later(samples.t);
  samples.rss = higher(samples.rss);
  samples.heapUsed = higher(samples.heapUsed);
  samples.reserved = higher(samples.reserved);
  samples.pressureEvents = later(samples.pressureEvents);
  samples.source = { rows: later(samples.source.rows), bytes: later(samples.source.bytes) };
  for (const [name, stage] of Object.entries(samples.stages)) {
    samples.stages[name] = { held: higher(stage.held), rowsIn: later(stage.rowsIn), rowsOut: later(stage.rowsOut), spilledBytes: later(stage.spilledBytes) };
  }
  samples.intervalMs *= 2;
}

function merge(values: number[], pick: (a: number, b: number) => number): number[] {
  const merged: number[] = [];
  // With an odd count the oldest point stays alone, so the newest figures stay the newest.
  const pairs = values.length >> 1;
  const start = values.length - pairs * 2;
  if (start === 1) merged.push(values[0]);
  for (let i = start; i < values.length; i += 2) merged.push(pick(values[i], values[i + 1]));
  return merged;
}
