import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { z } from 'zod';
import { csv, pipeline, postgres, run, toPostgres } from '../../../src/index.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_copy_binary_in');
const folder = mkdtempSync(join(tmpdir(), 'sluice-copy-binary-in-'));
after(() => rmSync(folder, { recursive: true, force: true }));

// Every type binary COPY writes, with nulls and extremes; the source is read back from PostgreSQL, so
// the batches carry every dtype the sink encodes (int16, int32, float32, float64, bool, date, timestamp,
// dictionary and plain strings).
await db.query(`
  create table source_rows (
    id int4, small int2, big int8, real_value float4, double_value float8, flag boolean, day date,
    at_utc timestamptz, wall timestamp, label text, code varchar(40), letter char(3)
  )`);
await db.query(`
  insert into source_rows
  select i,
    case when i % 7 = 0 then null else ((i * 7919) % 65536 - 32768)::int2 end,
    case when i % 11 = 0 then null when i % 13 = 0 then -9007199254740991 else (i::int8 * 1000003 - 500000000) end,
    case when i % 5 = 0 then null else (i * 0.37 - 100)::float4 end,
    case when i % 9 = 0 then null when i = 1 then 'NaN' when i = 2 then '-Infinity' when i = 3 then '-0' else (i * 1.1e-3 - 7.25)::float8 end,
    case when i % 3 = 0 then null else i % 2 = 0 end,
    case when i % 10 = 0 then null when i = 4 then '4713-01-01 BC' when i = 5 then '5874897-12-31' else date '1900-01-01' + (i * 37) % 80000 end,
    case when i % 12 = 0 then null when i = 6 then 'infinity' when i = 7 then '-infinity' else timestamptz '1960-06-01 00:00:00+00' + (i * 12345.678) * interval '1 second' end,
    case when i % 14 = 0 then null else timestamp '2030-01-01' - (i * 9876.543) * interval '1 second' end,
    case when i % 4 = 0 then null when i % 15 = 0 then '' when i = 8 then E'tab\\there\\nnew \\\\ é 𝄞 \\x01' else 'label ' || (i % 50) end,
    case when i % 16 = 0 then null else 'code-' || i end,
    case when i % 17 = 0 then null else chr(97 + i % 26) end
  from generate_series(1, 5000) i`);

async function load(table: string, options: Partial<Parameters<typeof toPostgres>[0]> = {}, query = 'select * from source_rows') {
  await db.query(`drop table if exists ${table}; create table ${table} (like source_rows)`);
  return run(pipeline({ name: 'copy-binary-in' }).from(postgres({ query }, { connection: db.url, mode: 'copy', batchRows: 700 })).to(toPostgres({ table, connection: db.url, ...options })));
}

async function differences(a: string, b: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ((select * from ${a} except all select * from ${b}) union all (select * from ${b} except all select * from ${a})) d`);
  return rows[0].n;
}

test('binary COPY in stores the same rows as COPY text and as the source: every type, nulls, NaN, -0, ±infinity, BC and far dates', async () => {
  const binary = await load('loaded_binary', { copyFormat: 'binary' });
  const text = await load('loaded_text', { copyFormat: 'text' });
  assert.equal(binary.status, 'succeeded', binary.error?.message);
  assert.equal(text.status, 'succeeded', text.error?.message);
  assert.equal(binary.sink.engine, 'binary COPY');
  assert.equal(text.sink.engine, 'text COPY');
  assert.equal(binary.rows.written, 5000);
  assert.equal(await differences('loaded_binary', 'source_rows'), 0);
  assert.equal(await differences('loaded_text', 'source_rows'), 0);
  const { rows } = await db.query(`select double_value::text as d from loaded_binary where id in (1, 2, 3) order by id`);
  assert.deepEqual(rows.map((row) => row.d), ['NaN', '-Infinity', '-0']);
});

test('auto writes binary when every column can go binary, text when one cannot (a string into a jsonb column)', async () => {
  const auto = await load('loaded_auto');
  assert.equal(auto.sink.engine, 'binary COPY');
  await db.query('drop table if exists with_json; create table with_json (id int4, doc jsonb)');
  const summary = await run(
    pipeline({ name: 'copy-json' })
      .from(postgres({ query: `select i as id, json_build_object('i', i)::text as doc from generate_series(1, 10) i` }, { connection: db.url, mode: 'copy' }))
      .to(toPostgres({ table: 'with_json', connection: db.url })),
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.sink.engine, 'text COPY');
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from with_json where (doc->>'i')::int = id`);
  assert.equal(rows[0].n, 10);
});

test("copyFormat: 'binary' refuses a column it cannot write to its type, naming the column, before any row", async () => {
  await db.query('drop table if exists with_json2; create table with_json2 (id int4, doc jsonb)');
  const summary = await run(
    pipeline({ name: 'copy-json' })
      .from(postgres({ query: `select 1 as id, '{}' as doc` }, { connection: db.url, mode: 'copy' }))
      .to(toPostgres({ table: 'with_json2', connection: db.url, copyFormat: 'binary' })),
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error?.code, 'INVALID_OPTION');
  assert.match(summary.error!.message, /cannot write column "doc" \(dictionary\) to its table column of type oid 3802/);
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from with_json2');
  assert.equal(rows[0].n, 0);
});

test('a value the integer column cannot hold fails the binary load naming the CSV line and column, and nothing is committed', async () => {
  const file = join(folder, 'numbers.csv');
  writeFileSync(file, 'id,amount\n1,10\n2,20.5\n3,30\n');
  await db.query('drop table if exists amounts; create table amounts (id int4, amount int8)');
  const summary = await run(
    pipeline({ name: 'copy-fraction' })
      .from(csv(file, { schema: z.object({ id: z.number().int(), amount: z.number() }) }))
      .to(toPostgres({ table: 'amounts', connection: db.url, copyFormat: 'binary' })),
  );
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error?.code, 'PG_COPY');
  assert.match(summary.error!.message, /Row 2 written to .*amounts.* \(.*numbers\.csv:3.*\) cannot be stored: column "amount": 20\.5 does not fit the column's type \(bigint, exactly\)/);
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from amounts');
  assert.equal(rows[0].n, 0);
});

test('the server rejecting a binary row (too long for varchar) names the row and its source line, as with COPY text', async () => {
  const file = join(folder, 'codes.csv');
  writeFileSync(file, 'id,code\n1,ab\n2,abcdef\n');
  await db.query('drop table if exists codes; create table codes (id int4, code varchar(3))');
  const results = [];
  for (const copyFormat of ['binary', 'text'] as const) {
    const summary = await run(
      pipeline({ name: 'copy-long' })
        .from(csv(file, { schema: z.object({ id: z.number().int(), code: z.string() }) }))
        .to(toPostgres({ table: 'codes', connection: db.url, copyFormat })),
    );
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'PG_COPY');
    // COPY text's context quotes the value too; the rest is the same.
    results.push(summary.error!.message.replace(/: ".*"\.$/, '.'));
  }
  assert.match(results[0], /PostgreSQL rejected row 2 written to .*codes.* \(.*codes\.csv:3/);
  assert.match(results[0], /value too long for type character varying\(3\)/);
  assert.equal(results[0], results[1]);
});

test('binary replace and upsert load through their staging tables', async () => {
  await db.query('drop table if exists target; create table target (id int4 primary key, label text, at_utc timestamptz)');
  await db.query(`insert into target values (1, 'old', now()), (99999, 'gone', now())`);
  const query = 'select id, label, at_utc from source_rows where id <= 100';
  const replace = await run(
    pipeline({ name: 'copy-replace' })
      .from(postgres({ query }, { connection: db.url, mode: 'copy' }))
      .to(toPostgres({ table: 'target', connection: db.url, mode: 'replace', copyFormat: 'binary' })),
  );
  assert.equal(replace.status, 'succeeded', replace.error?.message);
  assert.equal(await differences('target', '(select id, label, at_utc from source_rows where id <= 100) s'), 0);
  const upsert = await run(
    pipeline({ name: 'copy-upsert' })
      .from(postgres({ query: `select id, 'new' as label, at_utc from source_rows where id between 50 and 150` }, { connection: db.url, mode: 'copy' }))
      .to(toPostgres({ table: 'target', connection: db.url, mode: 'upsert', key: 'id', copyFormat: 'binary' })),
  );
  assert.equal(upsert.status, 'succeeded', upsert.error?.message);
  const { rows } = await db.query<{ total: number; renamed: number }>(`select count(*)::int as total, count(*) filter (where label = 'new')::int as renamed from target`);
  assert.deepEqual(rows[0], { total: 150, renamed: 101 });
});

test('copyFormat on toPostgres is validated at the door', () => {
  assert.throws(() => toPostgres({ table: 't', copyFormat: 'bin' as 'binary' }), /copyFormat.*'auto', 'binary' or 'text'/s);
});

test('dictionary text in binary COPY: values new in later batches, short and long (over 32 bytes), multi-byte, stored as read', async () => {
  const query = "select i as id, repeat('é𝄞', i % 40) || (i % 300) as label from generate_series(1, 3000) i";
  await db.query(`drop table if exists long_labels; create table long_labels (id int4, label text); drop table if exists long_labels_source; create table long_labels_source as ${query}`);
  const summary = await run(
    pipeline({ name: 'long-labels' })
      .from(postgres({ query }, { connection: db.url, mode: 'copy', batchRows: 250 }))
      .to(toPostgres({ table: 'long_labels', connection: db.url, copyFormat: 'binary' })),
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.rows.written, 3000);
  assert.equal(await differences('long_labels', 'long_labels_source'), 0);
  const { rows } = await db.query<{ n: number }>("select count(*)::int as n from long_labels where octet_length(label) > 32");
  assert.ok(rows[0].n > 1000);
});
