/**
 * OpenTelemetry through a real SDK, registered as an application registers it: an in-memory span
 * exporter and a metric reader. The spans and counters must tell the same figures as the summary.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { csv, pipeline, run, toCsv } from 'sluice';

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-otel-'));
  const lines = ['id,qty'];
  for (let i = 1; i <= 5000; i++) lines.push(`${i},${i % 4}`);
  await writeFile(join(dir, 'in.csv'), `${lines.join('\n')}\n`);
});
after(async () => {
  trace.disable();
  metrics.disable();
  context.disable();
  await rm(dir, { recursive: true, force: true });
});

const pipelineOf = (name: string, input = join(dir, 'in.csv')) =>
  pipeline({ name, batchRows: 1000 })
    .from(csv(input))
    .filter((row) => Number(row.qty) > 0)
    .to(toCsv(join(dir, `${name}.csv`)));

test('without an SDK registered, a run has no spans and does not load the API', async () => {
  const summary = await run(pipelineOf('before-sdk'));
  assert.equal(summary.status, 'succeeded');
  assert.equal((globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')], undefined);
});

test('with an SDK: a span per run and per stage whose figures equal the summary, counters per batch that add up to the rows', async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));

  const summary = await run(pipelineOf('traced'));
  assert.equal(summary.status, 'succeeded');
  const finished = spans.getFinishedSpans();
  const runSpan = finished.find((span) => span.name === 'sluice.run traced');
  const stageSpan = finished.find((span) => span.name === 'sluice.stage filter');
  assert.ok(runSpan && stageSpan, `spans: ${finished.map((span) => span.name).join(', ')}`);
  assert.equal(stageSpan.parentSpanContext?.spanId, runSpan.spanContext().spanId, 'the stage span is a child of the run span');
  assert.equal(runSpan.attributes['sluice.rows.read'], summary.rows.read);
  assert.equal(runSpan.attributes['sluice.rows.written'], summary.rows.written);
  assert.equal(runSpan.attributes['sluice.rows.dropped'], summary.rows.dropped);
  assert.equal(runSpan.attributes['sluice.memory.peak_rss'], summary.memory.peakRss);
  assert.equal(stageSpan.attributes['sluice.rows.in'], summary.stages[0].rowsIn);
  assert.equal(stageSpan.attributes['sluice.rows.out'], summary.stages[0].rowsOut);
  assert.equal(summary.rows.read, 5000);
  assert.equal(summary.rows.written, 3750);

  await reader.forceFlush();
  const points = new Map<string, number>();
  for (const resource of metricExporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const a = point.attributes;
          if (a['sluice.pipeline'] !== 'traced') continue;
          points.set(`${metric.descriptor.name} ${a['sluice.stage']} ${a['sluice.direction']}`, point.value as number);
        }
      }
    }
  }
  assert.equal(points.get('sluice.rows source out'), summary.rows.read);
  assert.equal(points.get('sluice.rows filter in'), summary.rows.read);
  assert.equal(points.get('sluice.rows filter out'), summary.rows.written);
  assert.equal(points.get('sluice.rows sink in'), summary.rows.written);
  // Per batch, not per row: 5,000 rows in batches of at most 1,000.
  const batchesIn = points.get('sluice.batches filter in')!;
  assert.ok(batchesIn >= 5 && batchesIn < summary.rows.read / 100, `batches into filter: ${batchesIn}`);
});

test('a failed run: its span has status ERROR and records the error code; openTelemetry: false makes no span', async () => {
  spans.reset();
  const summary = await run(pipelineOf('broken', join(dir, 'missing.csv')));
  assert.equal(summary.status, 'failed');
  const runSpan = spans.getFinishedSpans().find((span) => span.name === 'sluice.run broken');
  assert.ok(runSpan);
  assert.equal(runSpan.status.code, 2 /* SpanStatusCode.ERROR */);
  assert.match(runSpan.status.message ?? '', new RegExp(`\\[${summary.error!.code}\\]`));
  assert.equal(runSpan.events.find((event) => event.name === 'exception')?.attributes?.['exception.type'], summary.error!.code);

  spans.reset();
  const off = await run(pipelineOf('untraced'), { openTelemetry: false });
  assert.equal(off.status, 'succeeded');
  assert.deepEqual(spans.getFinishedSpans().map((span) => span.name), []);
});
