/**
 * Reading must not change or lose values: a file read without a schema and written back keeps every
 * value as the file had it (zip codes lost their leading zeros, ids past 2^53 were rounded), and a
 * header that names a column twice is refused rather than one of the two dropped.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { csv, ndjson, pipeline, run, runOrThrow, toCsv } from '../../../src/index.ts';
import { tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-inference-');

for (const engine of ['fast', 'csv-parse'] as const) {
  test(`an inferred CSV round trip keeps leading zeros and integers beyond 2^53 (${engine} engine)`, async () => {
    const input = join(dir, `zips-${engine}.csv`);
    const output = join(dir, `zips-${engine}-out.csv`);
    const text = 'zip,id,n\n00501,9007199254740993,0\n02134,1,5\n10001,2,0\n08123,3,12\n';
    await writeFile(input, text);
    const summary = await runOrThrow(pipeline().from(csv(input, { engine })).to(toCsv(output)));
    assert.equal(summary.rows.written, 4);
    assert.equal(await readFile(output, 'utf8'), text);
  });
}

for (const engine of ['fast', 'csv-parse'] as const) {
  test(`a header that names a column twice is refused with the name and positions (${engine} engine)`, async () => {
    const input = join(dir, `duplicate-${engine}.csv`);
    await writeFile(input, 'id,name,amount,name\n1,a,2,b\n');
    for (const options of [{ engine }, { engine, schema: z.object({ id: z.number(), name: z.string() }) }]) {
      const summary = await run(pipeline().from(csv(input, options)).to(toCsv(join(dir, `duplicate-${engine}-out.csv`))));
      assert.equal(summary.status, 'failed');
      assert.equal(summary.error?.code, 'CSV_DUPLICATE_HEADER');
      assert.match(summary.error?.message ?? '', /:1: the header names column "name" 2 times \(fields 2, 4\)/);
    }
    // A repeated column that is not read loses nothing.
    const summary = await runOrThrow(pipeline().from(csv(input, { engine, schema: z.object({ id: z.number(), amount: z.number() }) })).to(toCsv(join(dir, `duplicate-${engine}-ok.csv`))));
    assert.equal(summary.rows.written, 1);
  });
}

test('a column named __proto__ is kept through the reader, select, rename and map, and no prototype changes', async () => {
  const input = join(dir, 'proto.csv');
  await writeFile(input, '__proto__,constructor,b\n1,x,2\n');
  const output = join(dir, 'proto-out.csv');
  const summary = await runOrThrow(
    pipeline()
      .from(csv(input))
      .map((row) => ({ ...row }))
      .select('__proto__', 'b')
      .rename({ b: 'c' })
      .to(toCsv(output)),
  );
  assert.equal(summary.rows.written, 1);
  assert.equal(await readFile(output, 'utf8'), '__proto__,c\n1,2\n');
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
  assert.equal(({} as Record<string, unknown>)['b'], undefined);
});

test('a column with no value in the sample is a COLUMN_ALL_NULL_IN_SAMPLE warning naming it, for CSV and NDJSON', async () => {
  const csvInput = join(dir, 'late.csv');
  await writeFile(csvInput, 'id,n\n1,\n2,\n3,5\n');
  const ndjsonInput = join(dir, 'late.ndjson');
  await writeFile(ndjsonInput, '{"id":1,"n":null}\n{"id":2}\n{"id":3,"n":5}\n');
  for (const source of [csv(csvInput, { sampleRows: 2 }), ndjson(ndjsonInput, { sampleRows: 2 })]) {
    const summary = await runOrThrow(pipeline().from(source).to(toCsv(join(dir, 'late-out.csv'))));
    assert.deepEqual(
      summary.warnings.map((warning) => [warning.code, warning.column]),
      [['COLUMN_ALL_NULL_IN_SAMPLE', 'n']],
    );
    assert.match(summary.warnings[0].message, /column "n" has no value in the 2 sampled rows of .*late\.(csv|ndjson), so it is read as text/);
  }
  // Sampled with its value, the column is typed and nothing is said.
  const summary = await runOrThrow(pipeline().from(csv(csvInput)).to(toCsv(join(dir, 'late-out.csv'))));
  assert.deepEqual(summary.warnings, []);
});
