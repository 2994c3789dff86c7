import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { ndjson, pipeline, run, runOrThrow, toCsv } from '../../../src/index.ts';
import { collect, tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-ndjson-');
let files = 0;
async function file(content: string | Buffer, extension = 'ndjson'): Promise<string> {
  const path = join(dir, `input-${++files}.${extension}`);
  await writeFile(path, content);
  return path;
}

const Event = z.object({
  id: z.int().min(0).max(60000),
  kind: z.enum(['click', 'view']),
  at: z.iso.datetime(),
  ok: z.boolean().optional(),
  note: z.string().nullable(),
});

const lines = [
  { id: 1, kind: 'click', at: '2024-01-02T03:04:05Z', ok: true, note: 'a "quote"' },
  { id: 2, kind: 'view', at: '2024-01-02T03:04:06Z', note: null },
  { id: 300, kind: 'view', at: '2024-01-02T03:04:07.5Z', ok: false, note: 'x', extra: [1, 2] },
];

describe('ndjson source', () => {
  test('reads objects through a schema: typed columns, missing optional fields as null, extra fields ignored', async () => {
    const path = await file(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const sink = collect();
    const summary = await runOrThrow(pipeline().from(ndjson(path, { schema: Event })).to(sink));
    assert.deepEqual(sink.rows, [
      { id: 1, kind: 'click', at: new Date('2024-01-02T03:04:05Z'), ok: true, note: 'a "quote"' },
      { id: 2, kind: 'view', at: new Date('2024-01-02T03:04:06Z'), ok: null, note: null },
      { id: 300, kind: 'view', at: new Date('2024-01-02T03:04:07.500Z'), ok: false, note: 'x' },
    ]);
    const batch = sink.batches[0];
    assert.deepEqual(batch.names, ['id', 'kind', 'at', 'ok', 'note']);
    assert.deepEqual(
      batch.names.map((n) => batch.column(n).dtype),
      ['uint16', 'dictionary', 'timestamp', 'bool', 'string'],
    );
    assert.deepEqual([...batch.lines!], [1, 2, 3]);
    assert.equal(summary.source.engine, 'JSON.parse per line');
    assert.deepEqual(summary.rows, { read: 3, written: 3, dropped: 0, rejected: 0 });
  });

  test('infers types without a schema; blank lines are skipped and lines still count', async () => {
    const path = await file('{"a":1,"b":"x","c":true,"d":1.5}\n\n{"a":2,"b":"x","c":false}\n{"a":3,"b":"x","d":2,"e":"2024-01-01"}\n');
    const sink = collect();
    await runOrThrow(pipeline().from(ndjson(path)).to(sink));
    const batch = sink.batches[0];
    assert.deepEqual(batch.names, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(
      batch.names.map((n) => batch.column(n).dtype),
      ['uint8', 'dictionary', 'bool', 'float64', 'date'],
    );
    assert.deepEqual([...batch.lines!], [1, 3, 4]);
    assert.deepEqual(sink.rows[2], { a: 3, b: 'x', c: null, d: 2, e: new Date('2024-01-01T00:00:00Z') });
  });

  test('columns keeps only the named fields', async () => {
    const path = await file(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const sink = collect();
    await runOrThrow(pipeline().from(ndjson(path, { schema: Event, columns: ['id'] })).to(sink));
    assert.deepEqual(sink.rows, [{ id: 1 }, { id: 2 }, { id: 300 }]);
  });

  test('.gz input is gunzipped', async () => {
    const path = await file(gzipSync('{"a":1}\n{"a":2}\n'), 'ndjson.gz');
    const sink = collect();
    await runOrThrow(pipeline().from(ndjson(path)).to(sink));
    assert.deepEqual(sink.rows, [{ a: 1 }, { a: 2 }]);
  });

  test('a line that is not JSON fails with NDJSON_PARSE naming the file and line', async () => {
    const path = await file('{"a":1}\n{"a":\n');
    const summary = await run(pipeline().from(ndjson(path, { schema: z.object({ a: z.number() }) })).to(collect()));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'NDJSON_PARSE');
    assert.equal(summary.error?.file, path);
    assert.equal(summary.error?.line, 2);
    assert.match(summary.error!.message, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2(:\\d+)?: not valid JSON`));
  });

  test('a line that is JSON but not an object fails with NDJSON_PARSE', async () => {
    const path = await file('{"a":1}\n[1,2]\n');
    const summary = await run(pipeline().from(ndjson(path, { schema: z.object({ a: z.number() }) })).to(collect()));
    assert.deepEqual(summary.error, {
      code: 'NDJSON_PARSE',
      message: `${path}:2: expected a JSON object, found an array`,
      file: path,
      line: 2,
      expected: 'one JSON object per line',
    });
  });

  test('schema violations fail the run with file, line, column, value and rule, or go to rejects', async () => {
    const path = await file('{"id":1,"kind":"click","at":"2024-01-01T00:00:00Z","note":null}\n{"id":2,"kind":"buy","at":"2024-01-01T00:00:00Z","note":null}\n');
    const failed = await run(pipeline().from(ndjson(path, { schema: Event })).to(collect()));
    assert.deepEqual(failed.error, {
      code: 'SCHEMA_VIOLATION',
      message: `${path}:2: column "kind": "buy" is not valid (expected one of click|view)`,
      file: path,
      line: 2,
      column: 'kind',
      value: 'buy',
      rule: 'one of click|view',
      pipeline: 'pipeline',
    });
    const rejectsPath = join(dir, 'ndjson-rejects.ndjson');
    const sink = collect();
    const summary = await runOrThrow(pipeline({ rejects: { path: rejectsPath } }).from(ndjson(path, { schema: Event })).to(sink));
    assert.deepEqual(summary.rows, { read: 2, written: 1, dropped: 0, rejected: 1 });
    const rejected = JSON.parse(await readFile(rejectsPath, 'utf8'));
    assert.equal(rejected.line, 2);
    assert.equal(rejected.value, 'buy');
  });

  test('limit stops reading early', async () => {
    const path = await file(Array.from({ length: 50 }, (_, i) => JSON.stringify({ i })).join('\n'));
    const sink = collect();
    const summary = await runOrThrow(pipeline().from(ndjson(path)).to(sink), { limit: 5 });
    assert.deepEqual(sink.rows.map((r) => r.i), [0, 1, 2, 3, 4]);
    assert.equal(summary.rows.read, 5);
  });
});

describe('ndjson: empty input', () => {
  test('an empty file with a schema still passes on its columns: a CSV sink writes its header line', async () => {
    const path = join(dir, 'empty.ndjson');
    await writeFile(path, '');
    const out = join(dir, 'empty.csv');
    const summary = await runOrThrow(pipeline().from(ndjson(path, { schema: z.object({ id: z.int(), name: z.string() }) })).to(toCsv(out)));
    assert.deepEqual(summary.rows, { read: 0, written: 0, dropped: 0, rejected: 0 });
    assert.equal(await readFile(out, 'utf8'), 'id,name\n');
  });
});

describe('ndjson() given a JSON document that is not NDJSON', () => {
  test('a pretty-printed JSON array fails at line 1 saying it is a JSON array and how to convert it', async () => {
    const path = await file('[\n  { "a": 1 },\n  { "a": 2 }\n]\n');
    const summary = await run(pipeline().from(ndjson(path)).to(collect()));
    assert.equal(summary.error?.code, 'NDJSON_PARSE');
    assert.equal(summary.error?.line, 1);
    assert.match(summary.error!.message, /:1(:\d+)?: not valid JSON \(.*\): this looks like a JSON array spread over several lines \(a \.json file\), not NDJSON; convert it to one object per line first, e\.g\. jq -c '\.\[\]' /);
  });

  test('a JSON array on one line and a pretty-printed object are named as such', async () => {
    const array = await file('[{"a":1},{"a":2}]\n');
    const arrayRun = await run(pipeline().from(ndjson(array)).to(collect()));
    assert.match(arrayRun.error!.message, /:1: expected a JSON object, found an array: this line is a JSON array, and ndjson\(\) reads one object per line; convert it/);
    const pretty = await file('{\n  "a": 1\n}\n');
    const prettyRun = await run(pipeline().from(ndjson(pretty)).to(collect()));
    assert.match(prettyRun.error!.message, /:1(:\d+)?: not valid JSON \(.*\): this looks like a JSON object spread over several lines \(pretty-printed\), not NDJSON/);
  });
});
