/**
 * Inference must not change values: a file read without a schema and written back keeps every value as
 * the file had it (issue: zip codes lost their leading zeros, ids past 2^53 were rounded).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { csv, pipeline, runOrThrow, toCsv } from '../../../src/index.ts';
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
