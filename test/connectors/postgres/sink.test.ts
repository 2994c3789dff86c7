import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { Batch, columnFromValues, csv, pipeline, run, toPostgres, type Pipeline } from '../../../src/index.ts';
import { fromBatches, fromRows, tempDir } from '../../support/fakes.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_sink');
const dir = await tempDir('sluice-pg-sink-');

const Item = z.object({ id: z.number().int().min(0).max(1_000_000), name: z.string().nullable(), price: z.number() });
const items = (from: number, count: number, name = 'item') =>
  Array.from({ length: count }, (_, i) => ({ id: from + i, name: `${name}-${from + i}`, price: (from + i) * 1.25 }));

async function load(p: Pipeline<any>, dryRun = false) {
  const summary = await run(p, { dryRun });
  return summary;
}

async function count(table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`);
  return rows[0].n;
}

describe('toPostgres', () => {
  test('createTable maps every dtype to its SQL type and values round-trip', async () => {
    const n = 3;
    const batch = new Batch(
      {
        b: columnFromValues('bool', [true, false, null]),
        i8: columnFromValues('int8', [-128, 127, 0]),
        u8: columnFromValues('uint8', [0, 255, 1]),
        i16: columnFromValues('int16', [-32768, 32767, null]),
        u16: columnFromValues('uint16', [65535, 0, 1]),
        i32: columnFromValues('int32', [-2147483648, 2147483647, 0]),
        u32: columnFromValues('uint32', [4294967295, 0, 1]),
        f32: columnFromValues('float32', [1.5, -0.25, null]),
        f64: columnFromValues('float64', [0.1, 1e300, Number.NaN]),
        ts: columnFromValues('timestamp', [Date.UTC(2024, 1, 29, 12, 30, 0, 250), 0, null]),
        d: columnFromValues('date', [new Date('2024-02-29'), new Date('1970-01-01'), null]),
        s: columnFromValues('string', ['tab\there\nnew \\ é', '', null]),
      },
      n,
    );
    const summary = await load(pipeline({ name: 'types' }).from(fromBatches([batch])).to(toPostgres({ table: 'all_types', createTable: true, connection: db.url })));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    const types = await db.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns where table_schema = $1 and table_name = 'all_types' order by ordinal_position`,
      [db.schema],
    );
    assert.deepEqual(Object.fromEntries(types.rows.map((row) => [row.column_name, row.data_type])), {
      b: 'boolean', i8: 'smallint', u8: 'smallint', i16: 'smallint', u16: 'integer', i32: 'integer', u32: 'bigint',
      f32: 'real', f64: 'double precision', ts: 'timestamp with time zone', d: 'date', s: 'text',
    });
    const { rows } = await db.query(`select b, i16, u32::text, f64::text, ts, d::text, s from all_types order by i8`);
    assert.deepEqual(rows[0], { b: true, i16: -32768, u32: '4294967295', f64: '0.1', ts: new Date('2024-02-29T12:30:00.250Z'), d: '2024-02-29', s: 'tab\there\nnew \\ é' });
    // Ordered by i8: -128, 0 (the third row), 127 (the second).
    assert.equal(rows[1].s, null);
    assert.equal(rows[1].f64, 'NaN');
    assert.equal(rows[2].s, '');
  });

  test('append adds rows, large volumes in ~1 MB COPY chunks', async () => {
    await db.query('create table appended (id int primary key, name text, price float8)');
    const first = await load(pipeline({ name: 'append' }).from(fromRows(items(0, 3), Item)).to(toPostgres({ table: 'appended', connection: db.url })));
    assert.equal(first.status, 'succeeded', first.error?.message);
    const rows = items(3, 60_000);
    const second = await load(pipeline({ name: 'append', batchRows: 8192 }).from(fromRows(rows, Item)).to(toPostgres({ table: 'appended', connection: db.url })));
    assert.equal(second.status, 'succeeded', second.error?.message);
    assert.equal(await count('appended'), 60_003);
    const { rows: last } = await db.query('select * from appended where id = 60002');
    assert.deepEqual(last[0], { id: 60002, name: 'item-60002', price: 60002 * 1.25 });
  });

  test('replace swaps the rows in one transaction and keeps dependent views and grants', async () => {
    await db.query('create table replaced (id int primary key, name text, price float8)');
    await db.query(`insert into replaced select i, 'old', 0 from generate_series(1, 10) i`);
    await db.query('create view replaced_names as select name from replaced');
    await db.query('grant select on replaced to public');
    const summary = await load(pipeline({ name: 'replace' }).from(fromRows(items(100, 5, 'new'), Item)).to(toPostgres({ table: 'replaced', mode: 'replace', connection: db.url })));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    const { rows } = await db.query('select count(*)::int as n, min(name) as name from replaced_names');
    assert.deepEqual(rows[0], { n: 5, name: 'new-100' });
    const grants = await db.query(`select has_table_privilege('public', 'replaced', 'select') as granted`).catch(() => ({ rows: [{ granted: true }] }));
    assert.equal(grants.rows[0].granted, true);
  });

  test('replace with no rows fails and changes nothing unless allowEmpty; readers see the old rows until the commit', async () => {
    await db.query('create table emptied (id int, name text, price float8)');
    await db.query(`insert into emptied values (1, 'a', 1)`);
    let seenDuringLoad = -1;
    const slow = pipeline({ name: 'replace-slow', batchRows: 100 })
      .from(fromRows(items(0, 300), Item, { batchRows: 100 }))
      .tap(async (batch) => {
        if (batch.columns['id'].get(0) === 200) seenDuringLoad = await count('emptied');
      })
      .to(toPostgres({ table: 'emptied', mode: 'replace', connection: db.url }));
    const summary = await load(slow);
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    assert.equal(seenDuringLoad, 1, 'a reader sees the old rows while the new ones load');
    assert.equal(await count('emptied'), 300);
    const refused = await load(pipeline({ name: 'replace-empty' }).from(fromRows([], Item)).to(toPostgres({ table: 'emptied', mode: 'replace', connection: db.url })));
    assert.equal(refused.status, 'failed');
    assert.equal(refused.error?.code, 'PG_EMPTY_REPLACE');
    assert.match(refused.error!.message, /no rows.*"emptied".*nothing was changed.*allowEmpty: true/);
    assert.equal(await count('emptied'), 300);
    const none = await load(pipeline({ name: 'replace-empty' }).from(fromRows([], Item)).to(toPostgres({ table: 'emptied', mode: 'replace', allowEmpty: true, connection: db.url })));
    assert.equal(none.status, 'succeeded', none.error?.message);
    assert.equal(await count('emptied'), 0);
  });

  test('replace is MVCC-safe: a REPEATABLE READ snapshot taken before the commit sees the old rows, a new one the new rows', async () => {
    await db.query('create table snapshotted (id int primary key, name text, price float8)');
    await db.query(`insert into snapshotted select i, 'old', 0 from generate_series(1, 50) i`);
    const reader = await db.pool.connect();
    try {
      await reader.query('begin isolation level repeatable read');
      // The snapshot is taken by the first query, before the replace starts.
      assert.equal((await reader.query('select 1')).rowCount, 1);
      const summary = await load(pipeline({ name: 'replace-mvcc' }).from(fromRows(items(100, 20, 'new'), Item)).to(toPostgres({ table: 'snapshotted', mode: 'replace', connection: db.url })));
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      const old = await reader.query(`select count(*)::int as n, min(name) as name from snapshotted`);
      assert.deepEqual(old.rows[0], { n: 50, name: 'old' }, 'the older snapshot still sees every old row');
      await reader.query('commit');
      const fresh = await reader.query(`select count(*)::int as n, count(*) filter (where name like 'new%')::int as new from snapshotted`);
      assert.deepEqual(fresh.rows[0], { n: 20, new: 20 });
    } finally {
      reader.release();
    }
  });

  test('column names that PostgreSQL would cut to the same 63 bytes are refused before anything is written, naming both', async () => {
    const stem = 'c'.repeat(63);
    const Wide = z.object({ [`${stem}_first`]: z.number(), [`${stem}_second`]: z.number() });
    const rows = [{ [`${stem}_first`]: 1, [`${stem}_second`]: 2 }];
    for (const dryRun of [false, true]) {
      const summary = await load(pipeline({ name: 'long-names' }).from(fromRows(rows, Wide)).to(toPostgres({ table: 'long_names', createTable: true, connection: db.url })), dryRun);
      assert.equal(summary.status, 'failed');
      assert.equal(summary.error?.code, 'INVALID_OPTION');
      assert.ok(summary.error!.message.includes(`"${stem}_first" and "${stem}_second" are all "${stem}"`), summary.error!.message);
    }
    assert.equal((await db.query(`select to_regclass('long_names') as t`)).rows[0].t, null, 'no table was created');
  });

  test('upsert inserts new keys, updates existing ones, and the last duplicate wins', async () => {
    await db.query('create table upserted (id int primary key, name text, price float8, touched boolean default false)');
    await db.query(`insert into upserted (id, name, price) values (1, 'one', 1), (2, 'two', 2)`);
    const rows = [
      { id: 2, name: 'two-first', price: 20 },
      { id: 3, name: 'three', price: 3 },
      { id: 2, name: 'two-last', price: 22 },
    ];
    const summary = await load(pipeline({ name: 'upsert' }).from(fromRows(rows, Item)).to(toPostgres({ table: 'upserted', mode: 'upsert', key: 'id', connection: db.url })));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    const { rows: result } = await db.query('select id, name, price from upserted order by id');
    assert.deepEqual(result, [
      { id: 1, name: 'one', price: 1 },
      { id: 2, name: 'two-last', price: 22 },
      { id: 3, name: 'three', price: 3 },
    ]);
  });

  test('upsert with createTable makes the key the primary key', async () => {
    const sink = () => toPostgres({ table: 'created_upsert', mode: 'upsert', key: ['id'], createTable: true, connection: db.url });
    assert.equal((await load(pipeline({ name: 'u1' }).from(fromRows(items(0, 3), Item)).to(sink()))).status, 'succeeded');
    const again = await load(pipeline({ name: 'u2' }).from(fromRows(items(1, 3, 'v2'), Item)).to(sink()));
    assert.equal(again.status, 'succeeded', again.error?.message);
    const { rows } = await db.query('select id, name from created_upsert order by id');
    assert.deepEqual(rows.map((row) => row.name), ['item-0', 'v2-1', 'v2-2', 'v2-3']);
  });

  test('a column named x"; drop table t; -- is just a column name', async () => {
    await db.query('create table t (id int)');
    const evil = 'x"; drop table t; --';
    const batch = new Batch({ id: columnFromValues('int32', [1, 2]), [evil]: columnFromValues('string', ['a', 'b']) }, 2);
    const summary = await load(pipeline({ name: 'evil' }).from(fromBatches([batch])).to(toPostgres({ table: { table: 'evil "table"' }, createTable: true, connection: db.url })));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    const { rows } = await db.query(`select "x""; drop table t; --" as v from "evil ""table""" order by id`);
    assert.deepEqual(rows.map((row) => row.v), ['a', 'b']);
    assert.equal(await count('t'), 0, 't still exists');
  });

  test('dry run writes nothing and describes without the password', async () => {
    await db.query('create table dry (id int, name text, price float8)');
    const url = new URL(db.url);
    url.password = 'S3cret/pw';
    const sink = toPostgres({ table: 'dry', connection: url.toString() });
    assert.ok(!JSON.stringify(sink.describe()).includes('S3cret'));
    const summary = await load(pipeline({ name: 'dry' }).from(fromRows(items(0, 5), Item)).to(sink), true);
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.rows.written, 5);
    assert.match(summary.sink.location, /dry run/);
    assert.ok(!JSON.stringify(summary).includes('S3cret'));
    assert.equal(await count('dry'), 0);
  });

  test('CSV → table: a rejected row names its source line and column', async () => {
    await db.query('create table from_csv (id int primary key, qty int not null)');
    const file = join(dir, 'in.csv');
    await writeFile(file, 'id,qty\n1,5\n2,6\n3,lots\n4,7\n');
    const summary = await load(pipeline({ name: 'csv-type' }).from(csv(file)).to(toPostgres({ table: 'from_csv', connection: db.url })));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'PG_COPY');
    assert.match(summary.error!.message, /rejected row 3 .*in\.csv:4.*column "qty"/);
    assert.match(summary.error!.message, /invalid input syntax for type integer: "lots"/);
    assert.equal((summary.error as Record<string, unknown>)['line'], 4);
    assert.equal(await count('from_csv'), 0, 'nothing of the failed COPY is visible');
  });

  test('replace: a row the table rejects is reported against the table, not its staging copy', async () => {
    await db.query('create table checked (id int primary key, qty int check (qty < 100))');
    await db.query('insert into checked values (1, 1)');
    const file = join(dir, 'checked.csv');
    await writeFile(file, 'id,qty\n1,5\n2,500\n');
    const summary = await load(pipeline({ name: 'replace-check' }).from(csv(file)).to(toPostgres({ table: 'checked', mode: 'replace', connection: db.url })));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'PG_COPY');
    assert.match(summary.error!.message, /checked\.csv:3/);
    assert.match(summary.error!.message, /relation "checked" violates check constraint/);
    assert.doesNotMatch(summary.error!.message, /sluice_staging/);
    const { rows } = await db.query<{ qty: number }>('select qty from checked');
    assert.deepEqual(rows, [{ qty: 1 }], 'the old rows stay');
  });
});
