/**
 * The zod code `etl profile` prints must accept the file it was made from: pasted back into a pipeline,
 * every row passes, and the values come out as they went in.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { csv, pipeline, profile, run, toCsv } from '../../src/index.ts';
import { tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-profile-code-');

const files: Record<string, string> = {
  'utc timestamps': 'at,n\n2024-01-02T03:04:05Z,1\n2024-01-02T03:04:06.5Z,2\n',
  'timestamps with offsets': 'at,n\n2024-01-02T03:04:05+02:00,1\n2024-01-02T03:04:05Z,2\n',
  'timestamps with no zone': 'at,n\n2024-01-02T03:04:05,1\n2024-01-03T00:00:00,2\n',
  'timestamps with a space': 'at,n\n2024-01-02 03:04:05,1\n2024-01-03 10:00:00+01:00,2\n',
  'integral decimals, zips and an enum': 'price,zip,status\n1.0,00501,paid\n2.0,10001,new\n3.5,02134,paid\n',
  'nulls and dates': 'day,note\n2024-01-01,\n2024-02-29,x\n,y\n',
};

for (const [name, content] of Object.entries(files)) {
  test(`profile's zod code reads back the file it was made from: ${name}`, async () => {
    const input = join(dir, `${name.replaceAll(' ', '-')}.csv`);
    await writeFile(input, content);
    const report = await profile(input);
    const Row = new Function('z', `${report.zod}\nreturn Row;`)(z) as z.ZodObject;
    const output = `${input}.out.csv`;
    const summary = await run(pipeline().from(csv(input, { schema: Row })).to(toCsv(output)));
    assert.equal(summary.status, 'succeeded', `${report.zod}\n${summary.error?.message}`);
    assert.equal(summary.rows.rejected, 0);
    assert.equal(summary.rows.written, content.trim().split('\n').length - 1);
    const written = await readFile(output, 'utf8');
    assert.equal(written.split('\n')[0], content.split('\n')[0], 'same columns');
  });
}

test("profile's notes say what a float column and an enum from the sample are", async () => {
  const input = join(dir, 'notes.csv');
  await writeFile(input, 'price,big,status\n1.0,5000000000,paid\n2.0,6000000000,new\n3.0,7000000000,paid\n4.0,8000000000,new\n');
  const report = await profile(input);
  assert.match(report.zod, /price: z\.number\(\), \/\/ float64/);
  assert.match(report.zod, /big: z\.number\(\), \/\/ integers beyond int32/);
  assert.match(report.zod, /status: z\.enum\(\["new", "paid"\]\), \/\/ dictionary of the 2 values in the sample: another value is a schema violation/);
});
