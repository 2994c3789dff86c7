import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join as joinPath } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { Batch, columnFromValues, csv, join, type JoinFigures, pipeline, run, type Source } from '../../../src/index.ts';
import { formatSummary } from '../../../src/runtime/format-summary.ts';
import { collect, fromBatches, fromRows, tempDir } from '../../support/fakes.ts';

type Row = Record<string, unknown>;

async function ordersAndCustomers() {
  const dir = await tempDir('sluice-join-');
  const orders = joinPath(dir, 'orders.csv');
  const customers = joinPath(dir, 'customers.csv');
  await writeFile(orders, 'order_id,customer,quantity\n1,c1,5\n2,c2,1\n3,c9,2\n4,,7\n5,c1,3\n');
  await writeFile(customers, 'id,name,country\nc1,Ada,FR\nc2,Grace,US\nc3,Edsger,NL\n');
  return { dir, orders, customers };
}

test('join of two CSV files: inner and left joins, each side read through its own schema, nulls matching nothing', async () => {
  const { orders, customers } = await ordersAndCustomers();
  const Customer = z.object({ id: z.string(), name: z.string(), country: z.string() });
  const inner = collect<Row>();
  const summary = await run(
    pipeline({ name: 'orders' })
      .from(csv(orders))
      .join(csv(customers, { schema: Customer }), { on: [['customer', 'id']], select: { customer_name: 'name', country: 'country' } })
      .to(inner),
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.deepEqual(inner.rows, [
    { order_id: 1, customer: 'c1', quantity: 5, customer_name: 'Ada', country: 'FR' },
    { order_id: 2, customer: 'c2', quantity: 1, customer_name: 'Grace', country: 'US' },
    { order_id: 5, customer: 'c1', quantity: 3, customer_name: 'Ada', country: 'FR' },
  ]);
  // Rows accounted for: every order read is written or dropped (c9 and the empty customer match nothing).
  assert.equal(summary.rows.read, 5);
  assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected);
  assert.equal(summary.stages[0].sideSource?.rowsRead, 3);
  assert.match(formatSummary(summary), /stage {6}join {9}in 5, out 3, .*build 3 rows of 3 read from csv .*customers\.csv/);

  const left = collect<Row>();
  await run(pipeline({ name: 'orders' }).from(csv(orders)).join(csv(customers), { on: [['customer', 'id']], type: 'left', select: ['name'] }).to(left));
  assert.deepEqual(
    left.rows.map((row) => [row.order_id, row.name]),
    [
      [1, 'Ada'],
      [2, 'Grace'],
      [3, null],
      [4, null],
      [5, 'Ada'],
    ],
  );
});

test('join: key types of different kinds fail before a row of the other side is read, naming both columns and dtypes', async () => {
  const { orders } = await ordersAndCustomers();
  const customers = fromRows([{ id: 1, name: 'Ada' }], z.object({ id: z.number().int(), name: z.string() }));
  const summary = await run(pipeline({ name: 'mismatch' }).from(csv(orders)).join(customers, { on: [['customer', 'id']] }).to(collect()));
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error?.code, 'PIPELINE_SHAPE');
  assert.match(summary.error!.message, /join: key "customer" is (string|dictionary) but "id" of 1 rows is (int32|float64|uint8|int8); keys must be of one kind/);
  assert.equal(customers.probe.batchesYielded, 0, 'the other side was not read');
  assert.equal(summary.rows.written, 0);

  // Integer and float keys are one kind: they match by value.
  const wide = fromRows([{ id: 1.0, name: 'one' }], z.object({ id: z.number(), name: z.string() }));
  const sink = collect<Row>();
  const ok = await run(pipeline({ name: 'numbers' }).from(csv(orders)).join(wide, { on: [['order_id', 'id']] }).to(sink));
  assert.equal(ok.status, 'succeeded', ok.error?.message);
  assert.deepEqual(sink.rows, [{ order_id: 1, customer: 'c1', quantity: 5, name: 'one' }]);
});

test('join: key types of different kinds known from both plans fail before the pipeline\'s own source is read', async () => {
  const orders = fromRows([{ order_id: 1, customer: 'c1' }], z.object({ order_id: z.number().int(), customer: z.string() }));
  const customers = fromRows([{ id: 1, name: 'Ada' }], z.object({ id: z.number().int(), name: z.string() }));
  // A stage between that passes the key on (filter) keeps its dtype known; the check still runs first.
  const summary = await run(pipeline({ name: 'mismatch' }).from(orders).filter((row) => row.order_id > 0, { reads: ['order_id'] }).join(customers, { on: [['customer', 'id']] }).to(collect()));
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error?.code, 'PIPELINE_SHAPE');
  assert.match(summary.error!.message, /join: key "customer" is string but "id" of 1 rows is (int\d+|float64); keys must be of one kind/);
  assert.equal(summary.error?.stage, 'join');
  assert.equal(orders.probe.batchesYielded, 0, 'the pipeline\'s own source was not read');
  assert.equal(customers.probe.batchesYielded, 0, 'nor the other side');
  assert.equal(summary.rows.read, 0);
});

test('join: the other side reads only the keys and the selected columns (projection push-down), and the summary says so', async () => {
  const { orders, customers } = await ordersAndCustomers();
  const sink = collect<Row>();
  const summary = await run(pipeline({ name: 'orders' }).from(csv(orders)).join(csv(customers), { on: [['customer', 'id']], select: ['name'] }).to(sink));
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.deepEqual(summary.stages[0].sideSource?.columns, { read: ['id', 'name'], of: 3 });
  assert.match(formatSummary(summary), /read from csv .*customers\.csv \(columns read 2 of 3: id, name\)/);
  assert.deepEqual(sink.rows[0], { order_id: 1, customer: 'c1', quantity: 5, name: 'Ada' });
});

test('join: a missing key on either side, a selected column the other side lacks and a name on both sides are clear errors', async () => {
  const { orders, customers } = await ordersAndCustomers();
  const cases: [Row, RegExp][] = [
    [{ on: [['nope', 'id']] }, /no column "nope" to join on in the pipeline's rows; they have order_id, customer, quantity/],
    [{ on: [['customer', 'nope']] }, /no column "nope" of .*customers\.csv to join on; it has id, name, country/],
    [{ on: [['customer', 'id']], select: ['age'] }, /select names "age" of .*customers\.csv, which has no such column/],
    [{ on: [['customer', 'id']], select: { quantity: 'name' } }, /both sides have a column "quantity"/],
  ];
  for (const [options, message] of cases) {
    const summary = await run(pipeline({ name: 'bad' }).from(csv(orders)).pipe(join(csv(customers), options as never)).to(collect()));
    assert.equal(summary.status, 'failed', JSON.stringify(options));
    assert.match(summary.error!.message, message);
  }
  const Named = z.object({ id: z.string(), quantity: z.number() });
  const clash = await run(pipeline({ name: 'clash' }).from(csv(orders)).join(csv(customers, { schema: Named }), { on: [['customer', 'id']] }).to(collect()));
  assert.match(clash.error!.message, /both sides have a column "quantity"; leave it out with select: \[\.\.\.\], or rename it with select: \{ "quantity_right": "quantity" \}/);
  // Options are checked when the pipeline is built.
  assert.throws(() => join(csv(customers), { on: 'id', tpye: 'left' } as never), /join\(\): unknown option `tpye`\. Did you mean `type`\?/);
  assert.throws(() => join(csv(customers), { on: 'id', type: 'outer' } as never), /join\(\): expected `type` to be 'inner', 'left', 'semi' or 'anti'/);
  assert.throws(() => join(csv(customers), { on: 'id', type: 'semi', select: ['name'] } as never), /a semi join adds no columns of the other side/);
});

test('join: an empty other side (left join: nulls; inner: nothing) and an empty input (the other side is not read)', async () => {
  const { orders, dir } = await ordersAndCustomers();
  const empty = joinPath(dir, 'empty.csv');
  await writeFile(empty, 'id,name\n');
  const schema = z.object({ id: z.string(), name: z.string() });
  const left = collect<Row>();
  await run(pipeline({ name: 'empty-right' }).from(csv(orders)).join(csv(empty, { schema }), { on: [['customer', 'id']], type: 'left' }).to(left));
  assert.equal(left.rows.length, 5);
  assert.ok(left.rows.every((row) => row.name === null));
  const anti = collect<Row>();
  await run(pipeline({ name: 'empty-right' }).from(csv(orders)).join(csv(empty, { schema }), { on: [['customer', 'id']], type: 'anti' }).to(anti));
  assert.equal(anti.rows.length, 5);

  const right = fromRows([{ id: 'c1', name: 'Ada' }], schema);
  const none = await run(pipeline({ name: 'empty-left' }).from(fromRows([], z.object({ customer: z.string() }))).join(right, { on: [['customer', 'id']] }).to(collect()));
  assert.equal(none.status, 'succeeded', none.error?.message);
  assert.equal(right.probe.batchesYielded, 0);
});

test("join: rows of the other side that break its schema go to the run's rejects, counted as rejected and not as read", async () => {
  const { orders, customers, dir } = await ordersAndCustomers();
  const rejects = joinPath(dir, 'rejects.ndjson');
  const Strict = z.object({ id: z.string(), name: z.string(), country: z.enum(['FR', 'US']) });
  const sink = collect<Row>();
  // country is selected, so it is read and checked (a column the join does not read is not, as with push-down on the pipeline's own source).
  const summary = await run(pipeline({ name: 'rejects', rejects: { path: rejects } }).from(csv(orders)).join(csv(customers, { schema: Strict }), { on: [['customer', 'id']], select: ['name', 'country'] }).to(sink));
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.rows.read, 5);
  assert.equal(summary.rows.rejected, 1, 'Edsger (NL) broke the schema');
  assert.equal(summary.stages[0].sideSource?.rejected, 1);
  assert.match(formatSummary(summary), /\(1 rejected\)/);
});

function keyed(count: number, offset = 0): Batch[] {
  const batches: Batch[] = [];
  for (let from = 0; from < count; from += 4000) {
    const ids = Array.from({ length: Math.min(4000, count - from) }, (_, i) => from + i + offset);
    batches.push(new Batch({ id: columnFromValues('float64', ids), label: columnFromValues('string', ids.map((id) => `label of ${id}`)) }, ids.length));
  }
  return batches;
}

test('join removes its spill files when the run fails mid-way and when a later take stops it early', async () => {
  const spillRoot = await tempDir('sluice-join-spill-');
  process.env.SLUICE_TEMP_DIR = spillRoot;
  try {
    const right = keyed(100_000);
    const left = keyed(40_000, 7);
    const failing: Source<any> = {
      ...fromBatches(left),
      async *read(context) {
        let n = 0;
        for await (const batch of fromBatches(left).read(context)) {
          if (++n === 5) throw new Error('disk went away');
          yield batch;
        }
      },
    };
    const figures: JoinFigures = { buildRows: 0, spilledBytes: 0, spilledPartitions: 0, spillMs: 0 };
    const failed = await run(pipeline({ name: 'fails' }).from(failing).pipe(join(fromBatches(right), { on: 'id', select: { right_label: 'label' }, figures })).to(collect()), { memory: '4MB' });
    assert.equal(failed.status, 'failed');
    assert.match(failed.error!.message, /disk went away/);
    assert.ok(figures.spilledBytes > 0, 'it had spilled before the failure');
    assert.deepEqual(await readdir(spillRoot), []);

    const taken = collect<Row>();
    const stopped = await run(pipeline({ name: 'take' }).from(fromBatches(left)).join(fromBatches(right), { on: 'id', select: { right_label: 'label' } }).take(3).to(taken), { memory: '4MB' });
    assert.equal(stopped.status, 'succeeded', stopped.error?.message);
    assert.equal(taken.rows.length, 3);
    assert.ok(stopped.stages[0].spilledBytes! > 0);
    assert.deepEqual(await readdir(spillRoot), []);
  } finally {
    delete process.env.SLUICE_TEMP_DIR;
  }
});

test('join: one key repeated on every build row spills and still completes (a partition that no hash bit can split)', async () => {
  const right = [new Batch({ id: columnFromValues('int32', new Array(60_000).fill(1)), label: columnFromValues('string', Array.from({ length: 60_000 }, (_, i) => `row ${i} of the one key`)) }, 60_000)];
  const left = [new Batch({ id: columnFromValues('int32', [1, 2]) }, 2)];
  const sink = collect<Row>({ keep: false });
  const summary = await run(pipeline({ name: 'one-key' }).from(fromBatches(left)).join(fromBatches(right), { on: 'id', type: 'left' }).to(sink), { memory: '4MB' });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.rows.written, 60_001);
  assert.ok(summary.stages[0].spilledPartitions! > 2);
});
