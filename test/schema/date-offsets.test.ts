/**
 * A time zone offset is at most 23:59 either way: `+25:00`, `-99:00` or `+02:60` is not a time to shift
 * by a day or more, it is a bad value, rejected with its location by every reader (the CSV fast engine,
 * csv-parse, NDJSON) and for every timestamp rule (`z.coerce.date()`, `z.iso.datetime({ offset: true })`).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { csv, ndjson, pipeline, run, type Source } from '../../src/index.ts';
import { parseTimestampText } from '../../src/codec/text.ts';
import { collect, tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-offsets-');

const GOOD: [string, string][] = [
  ['2024-01-02T03:04:05+02:00', '2024-01-02T01:04:05.000Z'],
  ['2024-01-02T03:04:05-12:00', '2024-01-02T15:04:05.000Z'],
  ['2024-01-02T03:04:05+23:59', '2024-01-01T03:05:05.000Z'],
  ['2024-01-02T03:04:05+05:30', '2024-01-01T21:34:05.000Z'],
];
const BAD = ['2024-01-02T03:04:05+25:00', '2024-01-02T03:04:05-99:00', '2024-01-02T03:04:05+02:60', '2024-01-02T03:04:05+24:00'];

test('parseTimestampText refuses offsets past 23:59 and keeps the real ones', () => {
  for (const [text, iso] of GOOD) assert.equal(new Date(parseTimestampText(text)).toISOString(), iso, text);
  for (const text of [...BAD, '2024-01-02T03:04+2500', '2024-01-02 03:04:05-9900']) assert.ok(Number.isNaN(parseTimestampText(text)), text);
});

const readers: { name: string; extension: string; body: (values: string[]) => string; source: (path: string, schema: z.ZodObject, rejects: string) => Source }[] = [
  { name: 'csv, fast engine', extension: 'csv', body: (values) => `at\n${values.join('\n')}\n`, source: (path, schema) => csv(path, { schema, engine: 'fast' }) },
  { name: 'csv, csv-parse engine', extension: 'csv', body: (values) => `at\n${values.join('\n')}\n`, source: (path, schema) => csv(path, { schema, engine: 'csv-parse' }) },
  { name: 'ndjson', extension: 'ndjson', body: (values) => values.map((at) => JSON.stringify({ at })).join('\n') + '\n', source: (path, schema) => ndjson(path, { schema }) },
];

const rules: [string, z.ZodObject][] = [
  ['z.coerce.date()', z.object({ at: z.coerce.date() })],
  ['z.iso.datetime({ offset: true })', z.object({ at: z.iso.datetime({ offset: true }) })],
];

describe('impossible offsets are rejected with their location', () => {
  for (const reader of readers) {
    for (const [rule, schema] of rules) {
      test(`${reader.name}, ${rule}`, async () => {
        const values = [...GOOD.map(([text]) => text), ...BAD];
        const path = join(dir, `at-${reader.name.replace(/\W+/g, '-')}-${rule.replace(/\W+/g, '')}.${reader.extension}`);
        await writeFile(path, reader.body(values));
        const rejectsPath = `${path}.rejects.ndjson`;
        const sink = collect<{ at: Date }>();
        const summary = await run(pipeline({ rejects: { path: rejectsPath, max: 100 } }).from(reader.source(path, schema, rejectsPath)).to(sink));
        assert.equal(summary.status, 'succeeded', summary.error?.message);
        assert.deepEqual(sink.rows.map((row) => row.at.toISOString()), GOOD.map(([, iso]) => iso));
        const rejects = (await readFile(rejectsPath, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
        const header = reader.extension === 'csv' ? 1 : 0;
        assert.deepEqual(
          rejects.map((reject) => [reject.file, reject.line, reject.column, reject.value]),
          BAD.map((value, k) => [path, header + GOOD.length + k + 1, 'at', value]),
        );
        assert.deepEqual(summary.rows, { read: values.length, written: GOOD.length, dropped: 0, rejected: BAD.length });
      });
    }
  }
});
