import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { compileSchema, csv, ndjson, pipeline, profile, run, runOrThrow, toCsv } from '../../src/index.ts';
import { writeOrdersCsv } from '../bench/support/orders.ts';
import { runCli } from '../support/cli.ts';
import { collect, tempDir } from '../support/fakes.ts';

test('the estimate of peak reserved memory is within 25% of what a real run reserves', async () => {
  const dir = await tempDir();
  const input = join(dir, 'orders.csv');
  // ~55k generated rows: order ids stay below 65536, so the run types them as the sample does.
  await writeOrdersCsv(input, 4 * 1024 * 1024);
  const report = await profile(input, { memory: '256MB' });
  const estimate = report.suggestion.estimate;
  const summary = await run(
    pipeline({ name: 'estimate' })
      .from(csv(input))
      .filter((row) => row.status === 'paid' || row.status === 'shipped')
      .derive({ total: (row) => Number(row.quantity) * Number(row.unit_price) })
      .to(toCsv(join(dir, 'out.csv'))),
    { memory: '256MB' },
  );
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  assert.equal(summary.batches.rowsPerBatch, estimate.batchRows);
  // What the estimate models exactly is the budget's own account (peakReserved): RSS adds V8's garbage,
  // which depends on when the collector runs, and is compared in the memory bench instead.
  const off = Math.abs(estimate.peakReserved / summary.memory.peakReserved - 1);
  assert.ok(off <= 0.25, `estimate ${estimate.peakReserved} vs measured ${summary.memory.peakReserved} (${(off * 100).toFixed(0)}% off)`);
  assert.ok(estimate.peakAboveBaseline > estimate.peakReserved);
});

test('profile reports per-column dtypes, bytes, nulls and cardinality, and zod code that compiles to the same dtypes', async () => {
  const dir = await tempDir();
  const input = join(dir, 'orders.csv');
  await writeOrdersCsv(input, 512 * 1024);
  const report = await profile(input, { sample: 2000 });
  assert.equal(report.sampleRows, 2000);
  const byName = Object.fromEntries(report.columns.map((column) => [column.name, column]));
  assert.equal(byName.quantity.dtype, 'uint8');
  assert.equal(byName.quantity.typedBytesPerRow, 1);
  assert.equal(byName.status.dtype, 'dictionary');
  assert.equal(byName.status.distinct, 4);
  assert.equal(byName.ordered_at.dtype, 'timestamp');
  assert.ok(byName.note.nullRatio > 0.3 && byName.note.nullRatio < 0.7);
  assert.equal(byName.customer.dtype, 'string');
  assert.ok(report.jsBytesPerRow > 3 * report.typedBytesPerRow);
  const Row = new Function('z', `${report.zod}\nreturn Row;`)(z) as z.ZodObject;
  const compiled = compileSchema(Row).columns;
  for (const column of report.columns) {
    if (column.name === 'order_id') continue; // bounds of the dtype, compiled into the same dtype
    assert.equal(compiled.find((plan) => plan.name === column.name)?.dtype, column.dtype, column.name);
  }
  assert.equal(compiled.find((plan) => plan.name === 'note')?.nullable, true);
});

test('profile suggests smaller batches for a smaller budget', async () => {
  const dir = await tempDir();
  const input = join(dir, 'wide.ndjson');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(input, Array.from({ length: 500 }, (_, i) => JSON.stringify({ id: i, text: String(i).padEnd(4000, 'x') })).join('\n'));
  const small = await profile(input, { memory: '4MB' });
  const large = await profile(input, { memory: '64MB' });
  assert.equal(small.format, 'ndjson');
  assert.ok(small.suggestion.batchRows < large.suggestion.batchRows);
  assert.ok(small.suggestion.estimate.bytesPerBatch <= (4 * 1024 * 1024) / 8);
  await assert.rejects(profile(input, { memory: '1KB' }), { code: 'MEMORY_BUDGET_TOO_SMALL' });
});

test('profile samples what the source infers from: the same names and rows, in the dialect given', async () => {
  const dir = await tempDir();
  const { writeFile } = await import('node:fs/promises');
  const semicolons = join(dir, 'semicolons.csv');
  await writeFile(semicolons, "id;city;note\n1;'Oslo; Norway';\n2;Rome;x\n3;'Lima';\n4;Rome;y\n");
  const report = await profile(semicolons, { delimiter: ';', quote: "'", sample: 3 });
  assert.equal(report.sampleRows, 3, 'sample: 3 reads three rows');
  assert.deepEqual(report.columns.map((column) => [column.name, column.dtype, column.nulls]), [
    ['id', 'uint8', 0],
    ['city', 'string', 0],
    ['note', 'string', 2],
  ]);
  const source = await csv(semicolons, { delimiter: ';', quote: "'" }).sample!(3, { signal: new AbortController().signal });
  assert.deepEqual(source.rows, [['1', 'Oslo; Norway', ''], ['2', 'Rome', 'x'], ['3', 'Lima', '']]);

  // NDJSON: the columns are the keys of every sampled line, in the order they first appear.
  const lines = join(dir, 'keys.ndjson');
  await writeFile(lines, '{"a":1}\n\n{"b":"x","a":2}\n{"c":true}\n');
  const keys = await profile(lines);
  assert.deepEqual(keys.columns.map((column) => [column.name, column.dtype, column.nulls]), [
    ['a', 'uint8', 1],
    ['b', 'string', 2],
    ['c', 'bool', 2],
  ]);
});

test('profile types NDJSON as the source does: a JSON string of digits stays a string, "" is not a null', async () => {
  const dir = await tempDir();
  const { writeFile } = await import('node:fs/promises');
  const input = join(dir, 'strings.ndjson');
  await writeFile(input, '{"code":"12","n":1,"s":""}\n{"code":"34","n":2,"s":"a"}\n');
  const report = await profile(input);
  assert.deepEqual(report.columns.map((column) => [column.name, column.dtype, column.nulls]), [
    ['code', 'string', 0],
    ['n', 'uint8', 0],
    ['s', 'string', 0],
  ]);
  const sink = collect();
  await runOrThrow(pipeline().from(ndjson(input)).to(sink));
  assert.deepEqual(sink.batches[0].names.map((name) => [name, sink.batches[0].column(name).dtype]), report.columns.map((column) => [column.name, column.dtype]));
});

test('a bad quote is one error from profile, inference and a run with a schema, on either engine; relaxQuotes profiles it', async () => {
  const dir = await tempDir();
  const schema = z.object({ id: z.number(), name: z.string(), note: z.string() });
  for (const [text, expected] of [
    ['id,name,note\n1,ab"c,x\n2,ok,y\n', /:2:5: Invalid quote: a quote inside an unquoted field at line 2, column 5/],
    ['id,name,note\n1,ok,x\n2,"abc,y\n', /:3:3: Quote not closed: the quoted field opened at line 3, column 3 runs to the end of the input/],
  ] as const) {
    const input = join(dir, `quote-${expected.source.length}.csv`);
    await writeFile(input, text);
    const messages: string[] = [];
    for (const engine of ['fast', 'csv-parse'] as const) {
      for (const options of [{ engine }, { engine, schema }]) {
        const summary = await run(pipeline().from(csv(input, options)).to(collect()));
        messages.push(`${summary.error?.code} ${summary.error?.message}`);
      }
    }
    const profiled = await profile(input).catch((error: Error & { code: string }) => error);
    assert.ok(profiled instanceof Error);
    messages.push(`${profiled.code} ${profiled.message}`);
    assert.equal(new Set(messages).size, 1, messages.join('\n'));
    assert.match(messages[0], expected);
  }
  const relaxed = join(dir, 'relaxed.csv');
  await writeFile(relaxed, 'id,name,note\n1,ab"c,x\n2,ok,y\n');
  const report = await profile(relaxed, { relaxQuotes: true });
  assert.deepEqual(report.columns.map((column) => column.name), ['id', 'name', 'note']);
});

test('etl profile --relax-quotes reads a file that needs it, which it refuses without', async () => {
  const dir = await tempDir();
  const input = join(dir, 'relaxed.csv');
  await writeFile(input, 'id,name,note\n1,ab"c,x\n2,ok,y\n');
  const refused = await runCli(['profile', input]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /CSV_INVALID_QUOTE/);
  const relaxed = await runCli(['profile', input, '--relax-quotes']);
  assert.equal(relaxed.code, 0, relaxed.stderr);
  assert.match(relaxed.stdout, /2 rows sampled/);
});

test('dictionaryStrings, which profile suggests for a repeating column, is an option of csv() and ndjson() and dictionary-encodes the named columns', async () => {
  const dir = await tempDir();
  const schema = z.object({ id: z.number(), status: z.string(), note: z.string() });
  const csvInput = join(dir, 'status.csv');
  await writeFile(csvInput, 'id,status,note\n1,paid,a\n2,open,b\n3,paid,c\n');
  const ndjsonInput = join(dir, 'status.ndjson');
  await writeFile(ndjsonInput, '{"id":1,"status":"paid","note":"a"}\n{"id":2,"status":"open","note":"b"}\n');
  const context = { pipeline: 'p', signal: new AbortController().signal, warn: () => {} };
  for (const source of [csv(csvInput, { schema, dictionaryStrings: ['status'] }), ndjson(ndjsonInput, { schema, dictionaryStrings: ['status'] })]) {
    const { columns } = await source.describe(context);
    assert.deepEqual(columns!.map((column) => [column.name, column.dtype]), [['id', 'float64'], ['status', 'dictionary'], ['note', 'string']]);
    const sink = collect();
    await runOrThrow(pipeline().from(source).to(sink));
    assert.deepEqual(sink.rows.map((row) => row.status), csvInput === source.location ? ['paid', 'open', 'paid'] : ['paid', 'open']);
  }
});
