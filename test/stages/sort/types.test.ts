/**
 * Type-level tests of sort, distinct and dedupe, checked by `tsc --noEmit`: the row type flows on, and a
 * key that is no column is a type error. The runtime test only makes node:test count the file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectTypeOf } from 'expect-type';
import { z } from 'zod';
import { csv, dedupe, distinct, pipeline, sort, type Stage } from '../../../src/index.ts';

const Order = z.object({ id: z.number(), status: z.enum(['new', 'paid']), note: z.string().nullable(), at: z.coerce.date() });
type Order = z.output<typeof Order>;

function builders() {
  const source = csv('orders.csv', { schema: Order });
  const sorted = pipeline()
    .from(source)
    .sort(['status', { column: 'at', descending: true, nulls: 'first' }])
    .sort('id')
    .sort({ column: 'note' });
  sorted.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<Order>();
    return true;
  });
  const deduped = sorted.dedupe(['status', 'note'], { keep: 'last' }).dedupe('id');
  deduped.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<Order>();
    return true;
  });
  pipeline().from(source).distinct(['status', 'at']).filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ status: 'new' | 'paid'; at: Date }>();
    return true;
  });
  pipeline().from(source).distinct('note').filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ note: string | null }>();
    return true;
  });
  pipeline().from(source).distinct().filter((row) => {
    expectTypeOf(row).toEqualTypeOf<Order>();
    return true;
  });
  expectTypeOf(sort<Order>('id')).toEqualTypeOf<Stage<Order, Order>>();
  expectTypeOf(distinct<Order, 'id'>('id')).toEqualTypeOf<Stage<Order, Pick<Order, 'id'>>>();
  expectTypeOf(dedupe<Order, 'id'>('id')).toEqualTypeOf<Stage<Order, Order>>();

  // @ts-expect-error -- no column "nope" to sort by
  pipeline().from(source).sort('nope');
  // @ts-expect-error -- no column "nope" to sort by
  pipeline().from(source).sort([{ column: 'nope', descending: true }]);
  // @ts-expect-error -- nulls is 'first' or 'last'
  pipeline().from(source).sort([{ column: 'id', nulls: 'top' }]);
  // @ts-expect-error -- no column "nope" to dedupe by
  pipeline().from(source).dedupe('nope');
  // @ts-expect-error -- keep is 'first' or 'last'
  pipeline().from(source).dedupe('id', { keep: 'any' });
  // @ts-expect-error -- no column "nope" for distinct
  pipeline().from(source).distinct(['nope']);
  return sorted;
}

test('sort, distinct and dedupe keep the row type (checked by tsc)', () => {
  assert.equal(typeof builders, 'function');
});
