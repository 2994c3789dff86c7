/**
 * `partitionBy`: a table split into key ranges for a distributed run. Every row read through the
 * ranges once, none twice, also rows added after the ranges were planned (below the lowest, above the
 * highest, NULL keys); bounds exact past 2^53; a plain run still reads every row.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipeline, postgres, run } from '../../../src/index.ts';
import { testSchema } from '../../support/db.ts';
import { collect } from '../../support/fakes.ts';

const db = await testSchema('pg_partition_by');
await db.query('create table keyed (id bigint, note text)');
await db.query(`insert into keyed select k, 'row ' || k from generate_series(1, 1000) as k`);

async function readAll(source: ReturnType<typeof postgres>) {
  const sink = collect<{ id: number | null; note: string }>();
  const summary = await run(pipeline({ name: 'keyed' }).from(source).to(sink));
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  return sink.rows;
}

test('key ranges cover every row once, rows added after planning included', async () => {
  const source = postgres({ table: 'keyed', columns: ['id', 'note'] }, { connection: db.url, partitionBy: { column: 'id', partitions: 4 } });
  const parts = await source.partitions!({ signal: new AbortController().signal });
  assert.deepEqual(
    parts.map((part) => part.label),
    ['id < 251 or null', 'id in [251, 501)', 'id in [501, 751)', 'id >= 751'],
  );
  // After planning: below the lowest, above the highest, and a NULL key.
  await db.query(`insert into keyed values (-5, 'below'), (5000, 'above'), (null, 'no key')`);
  const seen: (number | null)[] = [];
  for (const part of parts) {
    // Through the queue: the spec is JSON.
    const rows = await readAll(source.partition!(JSON.parse(JSON.stringify(part.spec))) as ReturnType<typeof postgres>);
    seen.push(...rows.map((row) => row.id));
  }
  const expected = [null, -5, ...Array.from({ length: 1000 }, (_, k) => k + 1), 5000];
  const order = (values: (number | null)[]) => [...values].sort((a, b) => (a ?? -Infinity) - (b ?? -Infinity));
  assert.deepEqual(order(seen), order(expected));
  // A plain run reads them all, as one.
  assert.equal((await readAll(source)).length, expected.length);
});

test('fewer values than partitions gives one range per value; an empty table one range of everything', async () => {
  await db.query('create table few (id int)');
  await db.query('insert into few values (7), (8)');
  const few = postgres({ table: 'few' }, { connection: db.url, partitionBy: { column: 'id', partitions: 8 } });
  assert.deepEqual(
    (await few.partitions!({ signal: new AbortController().signal })).map((part) => part.label),
    ['id < 8 or null', 'id >= 8'],
  );
  await db.query('create table nothing (id int)');
  const none = postgres({ table: 'nothing' }, { connection: db.url, partitionBy: { column: 'id', partitions: 8 } });
  assert.deepEqual(
    (await none.partitions!({ signal: new AbortController().signal })).map((part) => part.label),
    ['every id'],
  );
});

test('bounds stay exact past 2^53, and a column that is not an integer is refused by name', async () => {
  await db.query('create table huge (id bigint, price numeric)');
  await db.query('insert into huge values (9007199254740993, 1), (9007199254741993, 2)');
  const huge = postgres({ table: 'huge', columns: ['id'] }, { connection: db.url, partitionBy: { column: 'id', partitions: 2 } });
  const parts = await huge.partitions!({ signal: new AbortController().signal });
  assert.deepEqual(parts[1].spec, { from: '9007199254741494' });
  const byPrice = postgres({ table: 'huge' }, { connection: db.url, partitionBy: { column: 'price', partitions: 2 } });
  await assert.rejects(byPrice.partitions!({ signal: new AbortController().signal }), { code: 'INVALID_OPTION', message: /`partitionBy` needs an integer column .* "price" is numeric/ });
  assert.throws(() => postgres({ table: 'huge' }, { mode: 'copy', partitionBy: { column: 'id', partitions: 2 } }), { code: 'INVALID_OPTION', details: { option: 'partitionBy' } } as object);
});
