/**
 * Type-level tests: the row type flows from the zod schema through the stages to the sink. They are
 * checked by `tsc --noEmit` (tsconfig includes test/); the runtime test below only makes node:test
 * count this file and proves the pipelines it builds are real.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectTypeOf } from 'expect-type';
import { z } from 'zod';
import { type AnyRow, type Batch, count, countDistinct, csv, first, max, mean, min, ndjson, pipeline, type Pipeline, reduce, type Source, type Stage, sum, toCsv } from '../src/index.ts';

const Order = z.object({
  a: z.number(),
  status: z.enum(['new', 'paid']),
  note: z.string().nullable(),
  at: z.coerce.date(),
});
type Order = z.output<typeof Order>;

function builders() {
  const source = csv('orders.csv', { schema: Order });
  expectTypeOf(source).toEqualTypeOf<Source<Order>>();

  const filtered = pipeline()
    .from(source)
    .filter((row) => {
      expectTypeOf(row).toEqualTypeOf<Order>();
      expectTypeOf(row.status).toEqualTypeOf<'new' | 'paid'>();
      expectTypeOf(row.note).toEqualTypeOf<string | null>();
      return row.a > 0;
    });

  const derived = filtered.derive({ total: (r) => r.a * 2, label: { dtype: 'string', value: (r) => r.status.toUpperCase() } });
  derived.filter((row) => {
    expectTypeOf(row).branded.toEqualTypeOf<Order & { total: number; label: string }>();
    expectTypeOf(row.total).toEqualTypeOf<number>();
    expectTypeOf(row.label).toEqualTypeOf<string>();
    expectTypeOf(row.a).toEqualTypeOf<number>();
    return true;
  });

  const selected = derived.select('a');
  selected.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ a: number }>();
    return true;
  });

  // @ts-expect-error -- "nope" is not a column
  derived.select('a', 'nope');

  // Date and timestamp columns hold Dates at run time, whatever zod's output type says for ISO text.
  const Dated = z.object({ day: z.iso.date(), at: z.iso.datetime().nullable(), maybe: z.iso.date().optional(), n: z.number() });
  pipeline()
    .from(csv('dated.csv', { schema: Dated }))
    .filter((row) => {
      expectTypeOf(row.day).toEqualTypeOf<Date>();
      expectTypeOf(row.at).toEqualTypeOf<Date | null>();
      expectTypeOf(row.maybe).toEqualTypeOf<Date | undefined>();
      expectTypeOf(row.n).toEqualTypeOf<number>();
      // @ts-expect-error -- a Date has no slice
      row.day.slice(0, 4);
      return true;
    });
  pipeline()
    .from(csv('dated.csv', { schema: Dated, columns: ['day'] }))
    .filter((row) => {
      expectTypeOf(row).toEqualTypeOf<{ day: Date }>();
      return true;
    });

  const renamed = filtered.rename({ a: 'b' });
  renamed.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ b: number; status: 'new' | 'paid'; note: string | null; at: Date }>();
    // @ts-expect-error -- "a" was renamed
    void row.a;
    return true;
  });

  const mapped = filtered.map((row) => ({ id: String(row.a), paid: row.status === 'paid' }));
  mapped.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ id: string; paid: boolean }>();
    return true;
  });

  const narrowed = csv('orders.csv', { schema: Order, columns: ['a'] });
  expectTypeOf(narrowed).toEqualTypeOf<Source<{ a: number }>>();
  const narrowedNdjson = ndjson('orders.ndjson', { schema: Order, columns: ['a', 'status'] });
  expectTypeOf(narrowedNdjson).toEqualTypeOf<Source<{ a: number; status: 'new' | 'paid' }>>();

  const untyped = csv('any.csv');
  expectTypeOf(untyped).toEqualTypeOf<Source<AnyRow>>();

  const custom: Stage<Order, { a: number }> = async function* (input) {
    for await (const batch of input) {
      expectTypeOf(batch).toEqualTypeOf<Batch<Order>>();
      yield batch.withColumns<{ a: number }>({ a: batch.column('a') });
    }
  };
  const piped = filtered.pipe(custom);
  piped.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ a: number }>();
    return true;
  });
  // @ts-expect-error -- the stage expects rows with "a" as a number
  pipeline().from(csv('x.csv', { schema: z.object({ a: z.string() }) })).pipe(custom);

  // groupBy: keys keep their types; min/max/first the column's; sum/mean a number (or null over a nullable column); counts numbers.
  const grouped = pipeline()
    .from(source)
    .derive({ maybe: (row) => (row.a > 0 ? row.a : null) })
    .groupBy(['status'], {
      n: count(),
      total: sum('a'),
      totalMaybe: sum('maybe'),
      average: mean('a'),
      lowest: min('at'),
      highest: max('note'),
      firstA: first('a'),
      notes: countDistinct('note'),
      longest: reduce({
        init: () => 0,
        step: (state: number, row) => {
          // The row of a reducer is AnyRow unless its step names the type: reduce's own type parameters are not inferred from groupBy.
          expectTypeOf(row).toEqualTypeOf<AnyRow>();
          return Math.max(state, row.note?.length ?? 0);
        },
        merge: (a: number, b: number) => Math.max(a, b),
      }),
    });
  grouped.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{
      status: 'new' | 'paid';
      n: number;
      total: number;
      totalMaybe: number | null;
      average: number;
      lowest: Date;
      highest: string | null;
      firstA: number;
      notes: number;
      longest: number;
    }>();
    return true;
  });
  pipeline().from(source).groupBy('status', { n: count() }).filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ status: 'new' | 'paid'; n: number }>();
    return true;
  });
  // @ts-expect-error -- no column "nope" to group by
  pipeline().from(source).groupBy(['nope'], { n: count() });
  // @ts-expect-error -- no column "nope" to sum
  pipeline().from(source).groupBy(['status'], { n: sum('nope') });

  const done = derived.take(10).tap(() => {}).to(toCsv('out.csv'));
  type RowOfPipeline<P> = P extends Pipeline<infer R> ? R : never;
  // `.branded`: the derived row is an intersection, equal to the flat object type member by member.
  expectTypeOf<RowOfPipeline<typeof done>>().branded.toEqualTypeOf<{ a: number; status: 'new' | 'paid'; note: string | null; at: Date; total: number; label: string }>();
  return done;
}

test('type-level tests compile (tsc --noEmit) and the pipelines they describe can be built', () => {
  const built = builders();
  assert.equal(built.stages.length, 4);
  assert.deepEqual(
    built.stages.map((stage) => stage.stageName),
    ['filter', 'derive', 'take', 'tap'],
  );
});
