/**
 * Type-level tests of `.join`: the output row is the left row and the selected right columns (nullable
 * after a left join; none after semi and anti joins). Checked by `tsc --noEmit`; the runtime test only
 * proves the pipelines they describe are built.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectTypeOf } from 'expect-type';
import { z } from 'zod';
import { csv, pipeline } from '../../../src/index.ts';

const Order = z.object({ order_id: z.number(), customer: z.string(), quantity: z.number() });
const Customer = z.object({ id: z.string(), name: z.string(), country: z.string().nullable(), customer: z.string() });

function builders() {
  const orders = pipeline().from(csv('orders.csv', { schema: Order }));
  const customers = csv('customers.csv', { schema: Customer });

  const inner = orders.join(customers, { on: [['customer', 'id']], select: ['name', 'country'] });
  inner.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ order_id: number; customer: string; quantity: number; name: string; country: string | null }>();
    return true;
  });
  const left = orders.join(customers, { on: [['customer', 'id']], type: 'left', select: { customer_name: 'name' } });
  left.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ order_id: number; customer: string; quantity: number; customer_name: string | null }>();
    return true;
  });
  // No select: every right column but the keys (here `customer`, a key of the same name on both sides).
  const all = orders.join(customers, { on: 'customer' });
  all.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ order_id: number; customer: string; quantity: number; id: string; name: string; country: string | null }>();
    return true;
  });
  const semi = orders.join(customers, { on: [['customer', 'id']], type: 'semi' });
  semi.filter((row) => {
    expectTypeOf(row).toEqualTypeOf<{ order_id: number; customer: string; quantity: number }>();
    return true;
  });
  // @ts-expect-error -- no column "nope" on the left
  orders.join(customers, { on: [['nope', 'id']] });
  // @ts-expect-error -- no column "nope" on the right
  orders.join(customers, { on: [['customer', 'nope']] });
  // @ts-expect-error -- "quantity" is not a column of both sides
  orders.join(customers, { on: 'quantity' });
  // @ts-expect-error -- select names a column the right side does not have
  orders.join(customers, { on: 'customer', select: ['quantity'] });
  return [inner, left, all, semi];
}

test('join type-level tests compile (tsc --noEmit) and the pipelines they describe are built', () => {
  const built = builders();
  assert.deepEqual(
    built.map((builder) => builder.to({ kind: 'memory', describe: () => ({ kind: 'memory', location: 'memory' }), write: async () => ({ rowsWritten: 0, location: 'memory' }) }).stages.map((stage) => stage.stageDetail)),
    [
      ['inner with csv customers.csv on customer = id → name, country'],
      ['left with csv customers.csv on customer = id → customer_name = name'],
      ['inner with csv customers.csv on customer → every column but the keys'],
      ['semi with csv customers.csv on customer = id'],
    ],
  );
});
