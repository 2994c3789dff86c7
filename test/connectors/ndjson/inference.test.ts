/**
 * JSON states its own types: inference over NDJSON keeps a JSON string a string and `""` an empty
 * string; only `null` or a missing key is null (the empty-is-null rule belongs to CSV).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ndjson, pipeline, runOrThrow, toNdjson } from '../../../src/index.ts';
import { inferColumns } from '../../../src/schema/infer.ts';
import { tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-ndjson-inference-');

test('an inferred NDJSON round trip keeps JSON strings as strings and "" as ""', async () => {
  const input = join(dir, 'in.ndjson');
  const output = join(dir, 'out.ndjson');
  const lines = ['{"zip":"00501","n":"0","s":"","k":1}', '{"zip":"10001","n":"5","s":"x","k":2}', '{"zip":null,"n":"7","s":"","k":null}'];
  await writeFile(input, `${lines.join('\n')}\n`);
  const summary = await runOrThrow(pipeline().from(ndjson(input)).to(toNdjson(output)));
  assert.equal(summary.rows.written, 3);
  const written = (await readFile(output, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(written, lines.map((line) => JSON.parse(line)));
});

test('inference of JSON values: strings stay text (ISO dates aside), "" is not a null, numbers are still numbers', () => {
  const { plans, stats } = inferColumns(['zip', 's', 'k', 'ok', 'day'], [['00501', '', 1, 'true', '2024-01-01'], ['2', 'x', 2.5, 'false', '2024-01-02']], { json: true });
  assert.deepEqual(plans.map((plan) => plan.dtype), ['string', 'string', 'float64', 'string', 'date']);
  assert.equal(stats[1].nulls, 0);
  const text = inferColumns(['s'], [[''], ['x']]);
  assert.equal(text.stats[0].nulls, 1, 'in text (CSV) an empty field is a null');
});

test('an NDJSON key named __proto__ is kept as a column', async () => {
  const input = join(dir, 'proto.ndjson');
  const output = join(dir, 'proto-out.ndjson');
  await writeFile(input, '{"__proto__":1,"b":2}\n');
  await runOrThrow(pipeline().from(ndjson(input)).to(toNdjson(output)));
  assert.equal(await readFile(output, 'utf8'), '{"__proto__":1,"b":2}\n');
});
