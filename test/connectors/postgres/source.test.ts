import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { pipeline, run, postgres, type Batch } from '../../../src/index.ts';
import { collect } from '../../support/fakes.ts';
import { testSchema } from '../../support/db.ts';

const db = await testSchema('pg_source');

await db.query(`
  create table typed (
    id int4 primary key, small int2, big int8, real_value float4, double_value float8, amount numeric(12, 2),
    flag boolean, day date, at_utc timestamptz, wall timestamp, label text, code varchar(8), letter char(2),
    uid uuid, doc jsonb, span interval, tags text[]
  )`);
await db.query(`
  insert into typed values
    (1, -32768, 9007199254740991, 1.5, 0.1, 12345.67, true, '2024-02-29', '2024-03-01 12:30:00.250+02', '2024-03-01 12:30:00.5',
     E'tab\\there\\nnew \\\\ é', 'abc', 'xy', '00000000-0000-0000-0000-000000000001', '{"a": 1}', '1 day 02:00', '{a,b}'),
    (2, null, null, null, 'NaN', null, false, '0044-03-15 BC', 'infinity', '1969-12-31 23:59:59.999', '', null, null, null, null, null, null),
    (3, 32767, -42, -0.25, -1e300, -0.01, null, '1970-01-01', '1970-01-01 00:00:00+00', null, null, null, null, null, null, null, null)`);

/** Polls until `check` holds (the server notices a closed connection asynchronously). */
async function eventually(check: () => Promise<boolean>, message: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(message);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function sessionsRunning(tag: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where query like '%${tag}%' and pid <> pg_backend_pid()`);
  return rows[0].n;
}

function runWith(source: ReturnType<typeof postgres>, options: { limit?: number } = {}) {
  const sink = collect();
  return run(pipeline({ name: 'pg-source' }).from(source).to(sink), options).then((summary) => ({ summary, sink }));
}

const EXPECTED_DTYPES = {
  id: 'int32', small: 'int16', big: 'float64', real_value: 'float32', double_value: 'float64', amount: 'float64',
  flag: 'bool', day: 'date', at_utc: 'timestamp', wall: 'timestamp', label: 'string', code: 'string', letter: 'string',
  uid: 'string', doc: 'string', span: 'string', tags: 'string',
};

for (const mode of ['cursor', 'copy'] as const) {
  describe(`postgres source, ${mode} mode`, () => {
    test('gives every mapped type its dtype and exact values', async () => {
      const { summary, sink } = await runWith(postgres({ query: 'select * from typed order by id' }, { connection: db.url, mode }));
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      const batch = sink.batches[0] as Batch;
      const dtypes = Object.fromEntries(batch.names.map((name) => [name, batch.columns[name].dtype]));
      // COPY mode keeps text dictionary-encoded (until a column has too many distinct values).
      const text = mode === 'copy' ? 'dictionary' : 'string';
      assert.deepEqual(dtypes, Object.fromEntries(Object.entries(EXPECTED_DTYPES).map(([name, dtype]) => [name, dtype === 'string' ? text : dtype])));
      const [first, second, third] = sink.rows as Record<string, unknown>[];
      assert.deepEqual(first, {
        id: 1, small: -32768, big: 9007199254740991, real_value: 1.5, double_value: 0.1, amount: 12345.67, flag: true,
        day: new Date('2024-02-29T00:00:00Z'), at_utc: new Date('2024-03-01T10:30:00.250Z'), wall: new Date('2024-03-01T12:30:00.500Z'),
        label: 'tab\there\nnew \\ é', code: 'abc', letter: 'xy', uid: '00000000-0000-0000-0000-000000000001', doc: '{"a": 1}',
        span: '1 day 02:00:00', tags: '{a,b}',
      });
      assert.equal(second.small, null);
      assert.ok(Number.isNaN(second.double_value as number));
      assert.equal(second.flag, false);
      assert.equal((second.day as Date).toISOString(), '-000043-03-15T00:00:00.000Z'); // 44 BC is astronomical year -43
      assert.equal((second.at_utc as Date).getTime(), NaN); // Infinity is not a valid Date, the column holds Infinity
      assert.equal(batch.columns['at_utc'].raw(1), Infinity);
      assert.equal((second.wall as Date).toISOString(), '1969-12-31T23:59:59.999Z');
      assert.equal(second.label, '');
      assert.equal(second.code, null);
      assert.equal(third.flag, null);
      assert.equal(third.double_value, -1e300);
      assert.equal(third.amount, -0.01);
      assert.equal((third.at_utc as Date).getTime(), 0);
    });

    test('pushes the projection and the filter into SQL, values as parameters', async () => {
      const source =
        mode === 'cursor'
          ? postgres({ table: 'typed', columns: ['id', 'label'], where: 'id >= $1', params: [2] }, { connection: db.url, mode })
          : postgres({ table: 'typed', columns: ['id', 'label'], where: 'id >= 2' }, { connection: db.url, mode });
      const { summary, sink } = await runWith(source);
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      assert.deepEqual(sink.batches[0].names, ['id', 'label']);
      assert.deepEqual(sink.rows.map((row) => row.id).sort(), [2, 3]);
    });

    test('types and checks columns with a zod schema; rows that break it are rejected with their row', async () => {
      const Schema = z.object({ id: z.number().int().min(2), label: z.string().nullable(), day: z.iso.date() });
      const source = postgres({ table: 'typed', where: 'id <> 2' }, { connection: db.url, mode, schema: Schema });
      const sink = collect();
      const summary = await run(
        pipeline({ name: 'pg-schema', rejects: { path: `/tmp/sluice-pg-rejects-${db.schema}-${mode}.ndjson` } }).from(source).to(sink),
      );
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      assert.equal(summary.rows.rejected, 1);
      assert.deepEqual(sink.batches[0].names, ['id', 'label', 'day']);
      assert.equal(sink.batches[0].columns['id'].dtype, 'float64');
      assert.deepEqual(sink.rows.map((row) => row.id), [3]);
    });

    test('reads volume in batches sized by batchRows and honours --limit', async () => {
      const query = 'select i, i * 2.5 as x, md5(i::text) as h from generate_series(1, 50000) i';
      const { summary, sink } = await runWith(postgres({ query }, { connection: db.url, mode, batchRows: 8192 }));
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      assert.equal(summary.rows.read, 50000);
      assert.ok(sink.batches.every((batch) => batch.length <= 8192));
      assert.equal(sink.rows[49999].x, 125000);
      // Rows split across network chunks come out whole.
      sink.rows.forEach((row, index) => {
        assert.equal(row.i, index + 1);
        assert.equal(row.h, createHash('md5').update(String(index + 1)).digest('hex'));
      });
      const limited = await runWith(postgres({ query }, { connection: db.url, mode, batchRows: 1000 }), { limit: 2500 });
      assert.equal(limited.summary.rows.read, 2500);
    });
  });
}

test('copy mode: text stays dictionary-encoded until dictionaryCap distinct values, then plain strings, same values', async () => {
  const query = `select i, (array['paid', E'tab\\tnew\\nline', 'é'])[1 + i % 3] as low, 'v' || i as high,
    case when i % 7 = 0 then null else 'x' end as sparse from generate_series(1, 5000) i`;
  const { summary, sink } = await runWith(postgres({ query }, { connection: db.url, mode: 'copy', batchRows: 1000, dictionaryCap: 100 }));
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  const batches = sink.batches as Batch[];
  assert.ok(batches.every((batch) => batch.columns['low'].dtype === 'dictionary' && batch.columns['sparse'].dtype === 'dictionary'));
  assert.equal(batches[0].columns['low'].dictionary!.size, 3);
  assert.equal(batches[0].columns['high'].dtype, 'string', 'the 101st distinct value turns the column into plain strings');
  assert.ok(batches.every((batch) => batch.columns['high'].dtype === 'string'));
  sink.rows.forEach((row, index) => {
    const i = index + 1;
    assert.deepEqual(row, { i, low: ['paid', 'tab\tnew\nline', 'é'][i % 3], high: `v${i}`, sparse: i % 7 === 0 ? null : 'x' });
  });
});

describe('early stop', () => {
  test('take() closes the cursor: the server produced no more than two pages', async () => {
    await db.query('create sequence fetched');
    const tag = `early_${db.schema.slice(-8)}`;
    const source = postgres({ query: `select i, nextval('fetched') as n, '${tag}' as tag from generate_series(1, 1000000) i` }, { connection: db.url, batchRows: 100 });
    const sink = collect();
    const summary = await run(pipeline({ name: 'early' }).from(source).take(10).to(sink));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    assert.equal(sink.rows.length, 10);
    const { rows } = await db.query<{ last_value: string }>('select last_value from fetched');
    // One page read, one read ahead.
    assert.ok(Number(rows[0].last_value) <= 200, `should not have read more than 200 rows, read ${rows[0].last_value}`);
    await eventually(async () => (await sessionsRunning(tag)) === 0, 'the session of the source is gone');
  });

  test('copy mode stops early by closing its connection', async () => {
    const tag = `early_copy_${db.schema.slice(-8)}`;
    const source = postgres({ query: `select i, '${tag}' as tag from generate_series(1, 3000000) i` }, { connection: db.url, mode: 'copy', batchRows: 1000 });
    const started = Date.now();
    const summary = await run(pipeline({ name: 'early-copy' }).from(source).take(10).to(collect()));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    assert.ok(Date.now() - started < 5000);
    await eventually(async () => (await sessionsRunning(tag)) === 0, 'the session of the source is gone');
  });

  test('abort (Ctrl-C) ends the run and releases the connection', async () => {
    const controller = new AbortController();
    const tag = `abort_${db.schema.slice(-8)}`;
    const source = postgres({ query: `select i, '${tag}' as tag from generate_series(1, 1000000) i` }, { connection: db.url, batchRows: 100 });
    const sink = collect({ delayMs: 20, keep: false, onBatch: () => setTimeout(() => controller.abort(), 50) });
    const summary = await run(pipeline({ name: 'abort' }).from(source).to(sink), { signal: controller.signal });
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'ABORTED');
    await eventually(async () => (await sessionsRunning(tag)) === 0, 'the session of the source is gone');
  });
});

test('location and describe() never show the password', async () => {
  const url = new URL(db.url);
  url.password = 'Pa55:w@rd';
  const source = postgres({ table: 'typed' }, { connection: url.toString() });
  assert.ok(!source.location.includes('Pa55'), source.location);
  assert.ok(!source.location.includes(encodeURIComponent('Pa55:w@rd')), source.location);
  const description = await source.describe({ pipeline: 'p', signal: new AbortController().signal, warn() {} });
  assert.equal(description.columns?.length, 17);
  assert.ok(!JSON.stringify(description).includes('Pa55'));
});
