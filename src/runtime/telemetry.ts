/**
 * OpenTelemetry, through `@opentelemetry/api` alone: the application brings and registers its SDK (a
 * tracer and a meter provider, exporters), as for any instrumented library. Each run is a span
 * (`sluice.run <pipeline>`) with one child span per stage (`sluice.stage <name>`, ended when that
 * stage ends), their figures as attributes (rows in and out, bytes held and state at their peak,
 * spills, peak RSS); a failed run's span records the error and has status ERROR. Counters are added
 * once per batch, never per row: `sluice.rows` and `sluice.batches`, by pipeline, stage (`source`,
 * a stage's name, `sink`) and direction.
 *
 * Nothing is loaded while no SDK is registered: the API keeps what an SDK registers in one global
 * object (`Symbol.for('opentelemetry.js.api.1')`, shared by every copy of API 1.x in the process), and
 * without it every tracer and meter is a no-op, so the run does not even import the API.
 */
import type { Attributes, Counter, Span } from '@opentelemetry/api';
import type { RunSummary, StageSummary } from './summary.ts';

const API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
const SCOPE = 'sluice';

export interface RunTelemetry {
  /** One batch of `rows` into or out of `where` (`source`, a stage's summary name, `sink`). */
  batch(where: string, direction: 'in' | 'out', rows: number): void;
  /** A stage's generator ended: its span ends with its figures. */
  stageEnded(stage: StageSummary): void;
  /** The run's span ends with the summary's figures (and its error). */
  end(summary: RunSummary): void;
}

/** Undefined when turned off (`openTelemetry: false`) or when no OpenTelemetry SDK is registered. */
export async function startRunTelemetry(pipeline: string, stages: readonly StageSummary[], enabled = true): Promise<RunTelemetry | undefined> {
  if (!enabled || (globalThis as Record<symbol, unknown>)[API_GLOBAL] === undefined) return undefined;
  const api = await import('@opentelemetry/api');
  const tracer = api.trace.getTracer(SCOPE);
  const meter = api.metrics.getMeter(SCOPE);
  const runSpan = tracer.startSpan(`sluice.run ${pipeline}`, { attributes: { 'sluice.pipeline': pipeline } });
  const parent = api.trace.setSpan(api.context.active(), runSpan);
  const stageSpans = new Map<StageSummary, Span>(
    stages.map((stage) => [stage, tracer.startSpan(`sluice.stage ${stage.name}`, { attributes: { 'sluice.pipeline': pipeline, 'sluice.stage': stage.name } }, parent)]),
  );
  const rows: Counter = meter.createCounter('sluice.rows', { description: 'Rows into and out of each part of a pipeline, added per batch', unit: '{row}' });
  const batches: Counter = meter.createCounter('sluice.batches', { description: 'Batches into and out of each part of a pipeline', unit: '{batch}' });
  // One attribute set per place and direction, made once: a batch allocates nothing.
  const attributes = new Map<string, Attributes>();
  const attributesOf = (where: string, direction: 'in' | 'out') => {
    const key = `${direction}:${where}`;
    let found = attributes.get(key);
    if (found === undefined) {
      found = { 'sluice.pipeline': pipeline, 'sluice.stage': where, 'sluice.direction': direction };
      attributes.set(key, found);
    }
    return found;
  };
  const endStage = (stage: StageSummary) => {
    const span = stageSpans.get(stage);
    if (span === undefined) return;
    stageSpans.delete(stage);
    span.setAttributes(stageAttributes(stage));
    span.end();
  };
  return {
    batch(where, direction, count) {
      const set = attributesOf(where, direction);
      rows.add(count, set);
      batches.add(1, set);
    },
    stageEnded: endStage,
    end(summary) {
      // A stage whose generator never started (the run failed before) ends here.
      for (const stage of [...stageSpans.keys()]) endStage(stage);
      runSpan.setAttributes({
        'sluice.status': summary.status,
        'sluice.rows.read': summary.rows.read,
        'sluice.rows.written': summary.rows.written,
        'sluice.rows.dropped': summary.rows.dropped,
        'sluice.rows.rejected': summary.rows.rejected,
        'sluice.bytes_read': summary.input.bytesRead,
        'sluice.memory.budget': summary.memory.budget,
        'sluice.memory.peak_reserved': summary.memory.peakReserved,
        'sluice.memory.peak_rss': summary.memory.peakRss,
        'sluice.source': `${summary.source.kind} ${summary.source.location}`,
        'sluice.sink': `${summary.sink.kind} ${summary.sink.location}`,
      });
      if (summary.error !== undefined) {
        runSpan.recordException({ name: summary.error.code, message: summary.error.message });
        runSpan.setStatus({ code: api.SpanStatusCode.ERROR, message: `[${summary.error.code}] ${summary.error.message}` });
      }
      runSpan.end();
    },
  };
}

function stageAttributes(stage: StageSummary): Attributes {
  const attributes: Attributes = {
    'sluice.rows.in': stage.rowsIn,
    'sluice.rows.out': stage.rowsOut,
    'sluice.peak_bytes_held': stage.peakBytesHeld,
    'sluice.peak_state_bytes': stage.peakStateBytes,
  };
  const optional: [string, number | undefined][] = [
    ['sluice.groups', stage.groups],
    ['sluice.peak_groups', stage.peakGroups],
    ['sluice.spilled_bytes', stage.spilledBytes],
    ['sluice.spilled_partitions', stage.spilledPartitions],
    ['sluice.spilled_runs', stage.spilledRuns],
    ['sluice.spill_ms', stage.spillMs],
  ];
  for (const [key, value] of optional) if (value !== undefined) attributes[key] = value;
  return attributes;
}
