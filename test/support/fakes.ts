/**
 * Tiny fakes for tests (Kiba's test/support style): an array source and a memory sink.
 *
 * ```ts
 * const sink = collect();
 * await runOrThrow(pipeline().from(fromRows([{ a: 1 }, { a: 2 }])).filter((r) => r.a > 1).to(sink));
 * sink.rows; // [{ a: 2 }]
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { z } from 'zod';
import type { AnyRow, Batch } from '../../src/batch/batch.ts';
import type { RunContext, Sink, SinkContext, SinkResult, Source, SourceContext, SourceDescription } from '../../src/contracts/contracts.ts';
import { compileSchema } from '../../src/schema/compile.ts';
import { clonePlans, RowDecoder } from '../../src/schema/decode.ts';
import { inferColumns } from '../../src/schema/infer.ts';
import type { ColumnPlan } from '../../src/schema/plan.ts';

/** A fresh folder under the OS temp dir, removed when the test file ends. */
export async function tempDir(prefix = 'sluice-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface FromRowsOptions {
  /** Rows per batch. @default the run's `batchRows()` */
  batchRows?: number;
}

/** What a fake source saw of its own life: batches made, rows handed on, whether its `finally` ran. */
export interface SourceProbe {
  batchesYielded: number;
  rowsYielded: number;
  closed: boolean;
}

export type FakeSource<R> = Source<R> & { probe: SourceProbe };

/**
 * A source over an array of plain rows. With a zod schema, rows go through the same RowDecoder as
 * files (so violations reach `context.reject` with line = 1-based row number); without, types are inferred.
 */
export function fromRows<S extends z.ZodObject | undefined = undefined>(
  rows: readonly AnyRow[],
  schema?: S,
  options: FromRowsOptions = {},
): FakeSource<S extends z.ZodObject ? z.output<S> : AnyRow> {
  const probe: SourceProbe = { batchesYielded: 0, rowsYielded: 0, closed: false };
  const plansFor = (): ColumnPlan[] => {
    if (schema !== undefined) return clonePlans(compileSchema(schema).columns);
    const names = [...new Set(rows.flatMap((row) => Object.keys(row)))];
    return clonePlans(inferColumns(names, rows.map((row) => names.map((name) => row[name]))).plans);
  };
  return {
    kind: 'rows',
    location: `${rows.length} rows`,
    probe,
    async describe(_context: RunContext): Promise<SourceDescription> {
      return { kind: 'rows', location: `${rows.length} rows`, columns: plansFor() };
    },
    async *read(context: SourceContext): AsyncGenerator<Batch<any>> {
      const plans = plansFor();
      const names = plans.map((plan) => plan.name);
      const size = () => options.batchRows ?? context.batchRows();
      let decoder = new RowDecoder(plans, size(), { warn: context.warn });
      const values: unknown[] = new Array(names.length);
      let left = context.limit ?? Infinity;
      try {
        for (let r = 0; r < rows.length && left > 0; r++) {
          for (let c = 0; c < names.length; c++) values[c] = rows[r][names[c]];
          const violation = decoder.append(values, r + 1);
          left--;
          if (violation !== null) {
            await context.reject(violation, { line: r + 1, column: violation.column });
            continue;
          }
          if (decoder.full) {
            const batch = decoder.flush({});
            probe.batchesYielded++;
            probe.rowsYielded += batch.length;
            yield batch;
            decoder = new RowDecoder(plans, size());
          }
        }
        if (decoder.length > 0) {
          const batch = decoder.flush({});
          probe.batchesYielded++;
          probe.rowsYielded += batch.length;
          yield batch;
        }
      } finally {
        probe.closed = true;
      }
    },
  } as FakeSource<any>;
}

/**
 * A source of `batches` batches of `rowsPerBatch` rows `{ n }` (n = 0, 1, 2, …), made lazily, that
 * counts how far it was read: for asserting that a consumer stopped it early.
 */
export function counting(batches: number, rowsPerBatch: number): FakeSource<{ n: number }> {
  const probe: SourceProbe = { batchesYielded: 0, rowsYielded: 0, closed: false };
  return {
    kind: 'counting',
    location: `${batches}x${rowsPerBatch} rows`,
    probe,
    async describe() {
      return { kind: 'counting', location: `${batches}x${rowsPerBatch} rows` };
    },
    async *read(): AsyncGenerator<Batch<any>> {
      const plans: ColumnPlan[] = [
        { name: 'n', dtype: 'uint32', nullable: false, coerce: false, storesZodOutput: false, rule: 'uint32', origin: 'schema' },
      ];
      try {
        for (let b = 0; b < batches; b++) {
          const decoder = new RowDecoder(plans, rowsPerBatch);
          for (let i = 0; i < rowsPerBatch; i++) decoder.append([b * rowsPerBatch + i], b * rowsPerBatch + i + 1);
          probe.batchesYielded++;
          probe.rowsYielded += rowsPerBatch;
          yield decoder.flush({});
        }
      } finally {
        probe.closed = true;
      }
    },
  } as FakeSource<any>;
}

export interface CollectOptions {
  /** Milliseconds to wait per batch (a slow sink). */
  delayMs?: number;
  /** Called with each batch before it is stored (assertions at every batch). */
  onBatch?: (batch: Batch<AnyRow>) => void;
  /** Keep the batches and rows (off for volume tests). @default true */
  keep?: boolean;
}

export type MemorySink<R> = Sink<R> & {
  /** Rows written, as plain objects. */
  rows: R[];
  batches: Batch<R>[];
};

/** A sink that keeps what it is given in memory. */
export function collect<R = AnyRow>(options: CollectOptions = {}): MemorySink<R> {
  const sink: MemorySink<R> = {
    kind: 'memory',
    rows: [],
    batches: [],
    describe: () => ({ kind: 'memory', location: 'memory' }),
    async write(input: AsyncIterable<Batch<R>>, _context: SinkContext): Promise<SinkResult> {
      let rowsWritten = 0;
      for await (const batch of input) {
        options.onBatch?.(batch as Batch<AnyRow>);
        if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
        if (options.keep !== false) {
          sink.batches.push(batch);
          for (const row of batch.toObjects()) sink.rows.push(row);
        }
        rowsWritten += batch.length;
      }
      return { rowsWritten, location: 'memory' };
    },
  };
  return sink;
}

/** A source over ready-made batches (exact columns and dtypes, e.g. to tell '' from null). */
export function fromBatches<R = AnyRow>(batches: readonly Batch<any>[]): FakeSource<R> {
  const probe: SourceProbe = { batchesYielded: 0, rowsYielded: 0, closed: false };
  return {
    kind: 'batches',
    location: `${batches.length} batches`,
    probe,
    async describe() {
      return { kind: 'batches', location: `${batches.length} batches` };
    },
    async *read(): AsyncGenerator<Batch<any>> {
      try {
        for (const batch of batches) {
          probe.batchesYielded++;
          probe.rowsYielded += batch.length;
          yield batch;
        }
      } finally {
        probe.closed = true;
      }
    },
  } as FakeSource<R>;
}
