import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { test } from 'node:test';
import { z } from 'zod';
import { pipeline, postgres, run, type Batch } from '../../../src/index.ts';
import { collect } from '../../support/fakes.ts';
import { CODE_GENERATION_MODES, withCodeGeneration } from '../../support/codegen.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_copy_binary');
const folder = mkdtempSync(join(tmpdir(), 'sluice-copy-binary-'));
after(() => rmSync(folder, { recursive: true, force: true }));
let reads = 0;

// Every type the binary decoder reads, with nulls, extremes and text with every byte UTF-8 allows.
await db.query(`
  create table every_type (
    id int4, small int2, big int8, real_value float4, double_value float8, amount numeric, money_like numeric(14, 4),
    flag boolean, day date, at_utc timestamptz, wall timestamp, label text, code varchar(20), letter char(3),
    who name, doc json, docb jsonb, uid uuid
  )`);
await db.query(`
  insert into every_type
  select i,
    case when i % 7 = 0 then null else ((i * 7919) % 65536 - 32768)::int2 end,
    case when i % 11 = 0 then null when i % 13 = 0 then -9007199254740991 else (i::int8 * 1000003 - 500000000) end,
    case when i % 5 = 0 then null else (i * 0.37 - 100)::float4 end,
    case when i % 9 = 0 then null else (i * 1.1e-3 - 7.25)::float8 end,
    case when i % 6 = 0 then null else ((i * 31) % 100000 - 50000)::numeric / 1000 end,
    case when i % 8 = 0 then null else ((i * 17) % 1000000)::numeric(14, 4) / 7 end,
    case when i % 3 = 0 then null else i % 2 = 0 end,
    case when i % 10 = 0 then null else date '1900-01-01' + (i * 37) % 80000 end,
    case when i % 12 = 0 then null else timestamptz '1960-06-01 00:00:00+00' + (i * 12345.678901) * interval '1 second' end,
    case when i % 14 = 0 then null else timestamp '2030-01-01' - (i * 9876.5432) * interval '1 second' end,
    case when i % 4 = 0 then null when i % 15 = 0 then '' else 'label ' || (i % 50) end,
    case when i % 16 = 0 then null else 'code-' || i end,
    case when i % 17 = 0 then null else chr(97 + i % 26) end,
    ('n' || i % 3)::name,
    case when i % 18 = 0 then null else json_build_object('i', i)::json end,
    case when i % 19 = 0 then null else jsonb_build_object('k', i % 4, 'v', 'x') end,
    case when i % 20 = 0 then null else md5(i::text)::uuid end
  from generate_series(1, 5000) i`);
await db.query(`
  insert into every_type values
    (-1, -32768, 9007199254740992, 'Infinity', '-Infinity', 'NaN', 0, true, '4713-01-01 BC', '294276-12-31 23:59:59.999999+00', '0001-01-01 00:00:00',
     E'tab\\there\\nnew \\\\ é 𝄞 \\x01', 'x', 'ab', 'n', '{"a":[1,2]}', '{"b": null}', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
    (-2, 32767, -9007199254740992, '-0', '-0', '-0.000001', -99999999.9999, false, '5874897-12-31', '1969-12-31 23:59:59.999999+00', '1999-12-31 23:59:59.9995',
     (select string_agg(chr(c), '') from generate_series(1, 55295) c), '', '', '', 'null', '[]', '00000000-0000-0000-0000-000000000000'),
    (-3, 0, 0, 'NaN', 'NaN', 123456789012345678901234567890.123456789, 0.0001, null, null, '-infinity', 'infinity', null, null, null, null, null, null, null),
    (-4, null, null, null, null, null, null, null, 'infinity', null, null, null, null, null, null, null, null, null)`);

/** Rows with dates as their milliseconds: a date past JavaScript's range (year 275760) is an Invalid Date, which deepEqual never finds equal. */
function plain(rows: readonly Record<string, unknown>[]) {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, value instanceof Date ? value.getTime() : value])));
}

async function read(query: string, options: Parameters<typeof postgres>[1]) {
  const sink = collect();
  const rejects = join(folder, `rejects-${++reads}.ndjson`);
  const summary = await run(pipeline({ name: 'copy-binary', rejects: { path: rejects } }).from(postgres({ query }, { connection: db.url, mode: 'copy', batchRows: 700, ...options })).to(sink));
  let rejected: unknown[] = [];
  try {
    rejected = readFileSync(rejects, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {}
  return { summary, sink, rejected };
}

test('binary COPY gives the same batches as text COPY for every type: values, dtypes, nulls, -0, NaN, extremes and rejects', async () => {
  const query = 'select * from every_type order by id';
  const text = await read(query, { copyFormat: 'text' });
  const binary = await read(query, { copyFormat: 'binary' });
  assert.equal(text.summary.status, 'succeeded', text.summary.error?.message);
  assert.equal(binary.summary.status, 'succeeded', binary.summary.error?.message);
  assert.equal(binary.summary.source.engineDetail, 'binary format');
  assert.equal(text.summary.source.engineDetail, 'text format');
  // Rows whose date or timestamp Sluice cannot hold (±infinity) are rejected by both, the same rows.
  assert.equal(binary.summary.rows.rejected, text.summary.rows.rejected);
  assert.ok(binary.summary.rows.rejected >= 1);
  assert.deepEqual(binary.rejected, text.rejected);
  assert.equal(binary.summary.rows.read, 5004);
  assert.equal(binary.summary.rows.read, binary.summary.rows.written + binary.summary.rows.rejected);
  const dtypes = (batches: readonly Batch[]) => batches[0].names.map((name) => `${name}:${batches[0].columns[name].dtype}`);
  assert.deepEqual(dtypes(binary.sink.batches), dtypes(text.sink.batches));
  assert.deepEqual(plain(binary.sink.rows), plain(text.sink.rows));
  const extremes = binary.sink.rows.filter((row) => (row.id as number) < 0);
  assert.ok(Object.is(extremes.find((row) => row.id === -2)?.double_value, -0), '-0 kept');
  const nan = extremes.find((row) => row.id === -3)!;
  assert.ok(Number.isNaN(nan.double_value) && Number.isNaN(nan.real_value), 'NaN kept');
  assert.equal(binary.rejected.length, 1);
});

test('binary COPY reads exactly 2^53-1 and below, and rounds int8 beyond it as the text path does', async () => {
  const query = `select v::int8 as v from (values (9007199254740991), (-9007199254740991), (9007199254740993), (-9223372036854775808), (9223372036854775807)) t(v)`;
  const text = await read(query, { copyFormat: 'text' });
  const binary = await read(query, { copyFormat: 'binary' });
  assert.deepEqual(binary.sink.rows.slice(0, 2), [{ v: 9007199254740991 }, { v: -9007199254740991 }]);
  assert.deepEqual(plain(binary.sink.rows), plain(text.sink.rows));
});

test('auto chooses binary only when every column has a binary decoder and no schema reads text', async () => {
  const all = await read('select id, label, at_utc from every_type where id > 0', {});
  assert.equal(all.summary.source.engineDetail, 'binary format');
  const interval = await read("select id, interval '1 day' as span from every_type where id > 0", {});
  assert.equal(interval.summary.source.engineDetail, 'text format');
  assert.equal(interval.sink.rows[0].span, '1 day');
  const schema = await read('select id from every_type where id > 0', { schema: z.object({ id: z.number().int() }) });
  assert.equal(schema.summary.source.engineDetail, 'text format');
  assert.equal(schema.summary.rows.written, 5000);
});

test("copyFormat: 'binary' refuses a column it cannot decode, naming it, before reading a row", async () => {
  const result = await read("select 1 as id, interval '1 day' as span", { copyFormat: 'binary' });
  assert.equal(result.summary.status, 'failed');
  assert.equal(result.summary.error?.code, 'INVALID_OPTION');
  assert.match(result.summary.error!.message, /cannot read column "span" \(type oid 1186\)/);
  assert.equal(result.summary.rows.read, 0);
});

test('copyFormat is refused outside copy mode and with an unknown value', () => {
  assert.throws(() => postgres({ query: 'select 1' }, { connection: db.url, copyFormat: 'binary' }), /`copyFormat` is only used by mode: 'copy'/);
  assert.throws(() => postgres({ query: 'select 1' }, { connection: db.url, mode: 'copy', copyFormat: 'bin' as 'binary' }), /copyFormat.*'auto', 'binary' or 'text'/s);
});

test('binary COPY rows split across network chunks and batches are whole: wide text, many batches', async () => {
  const query = `select i, repeat(md5(i::text), 1 + i % 200) as wide, i * 0.5 as half from generate_series(1, 20000) i`;
  const text = await read(query, { copyFormat: 'text', batchRows: 999 });
  const binary = await read(query, { copyFormat: 'binary', batchRows: 999 });
  assert.equal(binary.summary.rows.written, 20000);
  assert.ok(binary.sink.batches.length >= 20);
  assert.deepEqual(plain(binary.sink.rows), plain(text.sink.rows));
});

test('the generated tuple loop and the plain decoder give the same batches, in COPY and in cursor rows: every type, and text columns outgrowing their dictionary mid-batch', async () => {
  const queries = ['select * from every_type order by id', "select id, 'v' || (id % 40) as few, md5(id::text) as many, label from every_type order by id"];
  const reads = queries.flatMap((query) => [
    { query, options: { copyFormat: 'binary', dictionaryCap: 30 } as const },
    { query, options: { mode: 'cursor', cursorFormat: 'binary', dictionaryCap: 30 } as const },
  ]);
  for (const { query, options } of reads) {
    const results: Awaited<ReturnType<typeof read>>[] = [];
    for (const mode of CODE_GENERATION_MODES) results.push(await withCodeGeneration(mode.enabled, () => read(query, options)));
    const [withLoop, without] = results;
    assert.equal(withLoop.summary.status, 'succeeded', withLoop.summary.error?.message);
    assert.equal(without.summary.status, 'succeeded', without.summary.error?.message);
    assert.equal(withLoop.summary.rows.read, 5004);
    assert.equal(withLoop.summary.rows.rejected, without.summary.rows.rejected);
    assert.deepEqual(withLoop.rejected, without.rejected);
    const dtypes = (batches: readonly Batch[]) => batches.map((batch) => batch.names.map((name) => `${name}:${batch.columns[name].dtype}`).join(','));
    assert.deepEqual(dtypes(withLoop.sink.batches), dtypes(without.sink.batches));
    // The cap is passed inside the first batch: a dictionary column turned into plain strings there.
    assert.ok(withLoop.sink.batches[0].names.some((name) => withLoop.sink.batches[0].columns[name].dtype === 'string'));
    assert.deepEqual(plain(withLoop.sink.rows), plain(without.sink.rows));
  }
});

test('a server error in the middle of a binary COPY fails the run with it, after the rows before it, and the next read works', async () => {
  const query = 'select i, 1 / (i - 30000) as x, md5(i::text) as h from generate_series(1, 40000) i';
  const failed = await read(query, { copyFormat: 'binary', batchRows: 1000 });
  assert.equal(failed.summary.status, 'failed');
  assert.equal(failed.summary.error?.code, 'PG_QUERY');
  assert.match(failed.summary.error!.message, /division by zero \(SQLSTATE 22012\)/);
  // Rows before the error were decoded (the server streams them first), none after it.
  assert.ok(failed.summary.rows.read > 0 && failed.summary.rows.read < 30000, `read ${failed.summary.rows.read}`);
  const again = await read('select i from generate_series(1, 3) i', { copyFormat: 'binary' });
  assert.deepEqual(again.sink.rows, [{ i: 1 }, { i: 2 }, { i: 3 }]);
});

test('cursor mode reads binary rows below pg: the same values as its text rows and as binary COPY for every type, the same rejects', async () => {
  const query = 'select * from every_type order by id';
  const text = await read(query, { mode: 'cursor', cursorFormat: 'text' });
  const binary = await read(query, { mode: 'cursor' });
  const copy = await read(query, { copyFormat: 'binary' });
  for (const result of [text, binary, copy]) assert.equal(result.summary.status, 'succeeded', result.summary.error?.message);
  assert.equal(binary.summary.source.engineDetail, 'binary rows');
  assert.equal(text.summary.source.engineDetail, undefined);
  assert.equal(binary.summary.rows.read, 5004);
  assert.equal(binary.summary.rows.read, binary.summary.rows.written + binary.summary.rows.rejected);
  assert.equal(binary.summary.rows.rejected, text.summary.rows.rejected);
  assert.deepEqual(binary.rejected, copy.rejected);
  assert.deepEqual(plain(binary.sink.rows), plain(text.sink.rows));
  assert.deepEqual(plain(binary.sink.rows), plain(copy.sink.rows));
  // Binary rows are binary COPY's batches: text dictionary-encoded, the rest typed alike.
  const dtypes = (batches: readonly Batch[]) => batches[0].names.map((name) => `${name}:${batches[0].columns[name].dtype}`);
  assert.deepEqual(dtypes(binary.sink.batches), dtypes(copy.sink.batches));
  assert.deepEqual(
    dtypes(binary.sink.batches).map((entry) => entry.replace(':dictionary', ':string')),
    dtypes(text.sink.batches),
  );
});

test('binary cursor rows: pages and read-ahead, --limit, params, a result shorter than a page, an empty one', async () => {
  const paged = await read('select i, md5(i::text) as h from generate_series(1, 20000) i', { mode: 'cursor', batchRows: 999 });
  assert.equal(paged.summary.rows.written, 20000);
  assert.ok(paged.sink.batches.length >= 20 && paged.sink.batches.every((batch) => batch.length <= 999));
  assert.deepEqual(
    paged.sink.rows.map((row) => row.i),
    Array.from({ length: 20000 }, (_, i) => i + 1),
  );
  const sink = collect();
  const limited = await run(pipeline({ name: 'binary-limit' }).from(postgres({ query: 'select i from generate_series(1, 100000) i' }, { connection: db.url, batchRows: 1000 })).to(sink), { limit: 2500 });
  assert.equal(limited.rows.read, 2500);
  assert.equal(limited.source.engineDetail, 'binary rows');
  const withParams = collect();
  await run(pipeline({ name: 'binary-params' }).from(postgres({ query: 'select i, $1::text as tag from generate_series(1, $2::int) i', params: ['x', 3] }, { connection: db.url })).to(withParams));
  assert.deepEqual(withParams.rows, [{ i: 1, tag: 'x' }, { i: 2, tag: 'x' }, { i: 3, tag: 'x' }]);
  const short = await read('select i from generate_series(1, 5) i', { mode: 'cursor' });
  assert.deepEqual(short.sink.rows.map((row) => row.i), [1, 2, 3, 4, 5]);
  const empty = await read('select i from generate_series(1, 0) i', { mode: 'cursor' });
  assert.equal(empty.summary.status, 'succeeded', empty.summary.error?.message);
  assert.equal(empty.summary.rows.read, 0);
});

test('a server error in the middle of binary cursor rows fails the run with it, and the next read works', async () => {
  const failed = await read('select i, 1 / (i - 30000) as x from generate_series(1, 40000) i', { mode: 'cursor', batchRows: 1000 });
  assert.equal(failed.summary.status, 'failed');
  assert.equal(failed.summary.error?.code, 'PG_QUERY');
  assert.match(failed.summary.error!.message, /division by zero \(SQLSTATE 22012\)/);
  assert.ok(failed.summary.rows.read < 30000);
  const again = await read('select i from generate_series(1, 3) i', { mode: 'cursor' });
  assert.deepEqual(again.sink.rows, [{ i: 1 }, { i: 2 }, { i: 3 }]);
});

test("cursorFormat: auto reads text rows for a type without a binary decoder, a schema or a watermark; 'binary' refuses them", async () => {
  const interval = await read("select id, interval '1 day' as span from every_type where id > 0", { mode: 'cursor' });
  assert.equal(interval.summary.source.engineDetail, undefined);
  assert.equal(interval.sink.rows[0].span, '1 day');
  const schema = await read('select id from every_type where id > 0', { mode: 'cursor', schema: z.object({ id: z.number().int() }) });
  assert.equal(schema.summary.source.engineDetail, undefined);
  const refused = await read("select 1 as id, interval '1 day' as span", { mode: 'cursor', cursorFormat: 'binary' });
  assert.equal(refused.summary.error?.code, 'INVALID_OPTION');
  assert.match(refused.summary.error!.message, /cursorFormat: 'binary' cannot read column "span" \(type oid 1186\)/);
  assert.throws(() => postgres({ query: 'select 1' }, { connection: db.url, mode: 'copy', cursorFormat: 'binary' }), /`cursorFormat` is only used by mode: 'cursor'/);
  assert.throws(
    () => postgres({ query: 'select 1 as id' }, { connection: db.url, cursorFormat: 'binary', incremental: { column: 'id', key: 'id' } }),
    /cursorFormat: 'binary' cannot keep a watermark/,
  );
});
