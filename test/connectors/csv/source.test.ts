import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import { csv, type CsvOptions, pipeline, run, runOrThrow, type RunSummary, toCsv } from '../../../src/index.ts';
import { collect, tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-csv-');
let files = 0;
async function file(content: string | Buffer, extension = 'csv'): Promise<string> {
  const path = join(dir, `input-${++files}.${extension}`);
  await writeFile(path, content);
  return path;
}

const Row = z.object({ id: z.int().min(0).max(200), name: z.string(), score: z.number().nullable() });

async function readAll<S extends z.ZodObject | undefined>(path: string | string[], options: CsvOptions<S, string> = {}) {
  const sink = collect();
  const summary = await runOrThrow(pipeline().from(csv(path, { engine: 'csv-parse', ...options })).to(sink));
  assert.equal(summary.source.engine, 'csv-parse');
  assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected);
  return { rows: sink.rows, batches: sink.batches, summary };
}

async function failure(path: string, options: CsvOptions<z.ZodObject | undefined, string> = {}, rejects?: { path: string; max?: number }): Promise<RunSummary> {
  const summary = await run(pipeline({ rejects }).from(csv(path, { engine: 'csv-parse', ...options })).to(collect()));
  assert.equal(summary.status, 'failed');
  return summary;
}

describe('csv source (csv-parse engine)', () => {
  test('reads a header and typed columns, with each row\'s source line', async () => {
    const path = await file('id,name,score\n1,ann,1.5\n2,bob,\n3,cy,-2\n');
    const { rows, batches, summary } = await readAll(path, { schema: Row });
    assert.deepEqual(rows, [
      { id: 1, name: 'ann', score: 1.5 },
      { id: 2, name: 'bob', score: null },
      { id: 3, name: 'cy', score: -2 },
    ]);
    assert.equal(batches[0].column('id').dtype, 'uint8');
    assert.deepEqual([...batches[0].lines!], [2, 3, 4]);
    assert.equal(batches[0].origin.file, path);
    assert.equal(summary.input.bytesRead, summary.input.totalBytes);
  });

  test('the last record without a final newline is read', async () => {
    const path = await file('id,name,score\n1,ann,1\n2,bob,2');
    assert.deepEqual((await readAll(path, { schema: Row })).rows.map((r) => r.id), [1, 2]);
  });

  test('reads ";"-delimited files', async () => {
    const path = await file('id;name;score\n1;a,b;2.5\n');
    assert.deepEqual((await readAll(path, { schema: Row, delimiter: ';' })).rows, [{ id: 1, name: 'a,b', score: 2.5 }]);
  });

  test('quoted fields hold delimiters, doubled quotes and line breaks; lines count from where a record starts', async () => {
    const path = await file('id,name,score\n1,"a,b",1\n2,"say ""hi""",2\n3,"two\nlines",3\n4,after,4\n');
    const { rows, batches } = await readAll(path, { schema: Row });
    assert.deepEqual(rows.map((r) => r.name), ['a,b', 'say "hi"', 'two\nlines', 'after']);
    assert.deepEqual([...batches[0].lines!], [2, 3, 4, 6]);
  });

  test('a UTF-8 byte order mark is not part of the first column name', async () => {
    const path = await file(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,name,score\n7,é,1\n')]));
    assert.deepEqual((await readAll(path, { schema: Row })).rows, [{ id: 7, name: 'é', score: 1 }]);
  });

  test('latin1 files are decoded with encoding: "latin1"', async () => {
    const path = await file(Buffer.from('id,name,score\n1,café,1\n2,Müller,2\n', 'latin1'));
    assert.deepEqual((await readAll(path, { schema: Row, encoding: 'latin1' })).rows.map((r) => r.name), ['café', 'Müller']);
  });

  test('columns projects a schema to the named columns; the others are not decoded', async () => {
    // "score" would fail its schema if it were decoded.
    const path = await file('id,name,score\n1,ann,not-a-number\n');
    const { rows, batches } = await readAll(path, { schema: Row, columns: ['name'] });
    assert.deepEqual(rows, [{ name: 'ann' }]);
    assert.deepEqual(batches[0].names, ['name']);
  });

  test('columns projects an inferred file, in the order given', async () => {
    const path = await file('a,b,c\n1,x,2024-01-01\n2,y,2024-01-02\n');
    const { rows, batches } = await readAll(path, { columns: ['c', 'a'] });
    assert.deepEqual(batches[0].names, ['c', 'a']);
    assert.equal(batches[0].column('c').dtype, 'date');
    assert.equal(batches[0].column('a').dtype, 'uint8');
    assert.deepEqual(rows[1], { c: new Date('2024-01-02T00:00:00Z'), a: 2 });
  });

  test('header: [names] reads a file without a header line', async () => {
    const path = await file('1,ann,1\n2,bob,2\n');
    const { rows, batches } = await readAll(path, { schema: Row, header: ['id', 'name', 'score'] });
    assert.deepEqual(rows.map((r) => r.id), [1, 2]);
    assert.deepEqual([...batches[0].lines!], [1, 2]);
  });

  test('a glob reads every matching file in name order', async () => {
    const folder = join(dir, 'glob');
    await (await import('node:fs/promises')).mkdir(folder);
    await writeFile(join(folder, 'part-2.csv'), 'id,name,score\n3,c,3\n');
    await writeFile(join(folder, 'part-1.csv'), 'id,name,score\n1,a,1\n2,b,2\n');
    await writeFile(join(folder, 'other.txt'), 'id,name,score\n9,z,9\n');
    const { rows, batches } = await readAll(join(folder, 'part-*.csv'), { schema: Row });
    assert.deepEqual(rows.map((r) => r.id), [1, 2, 3]);
    assert.deepEqual(batches.map((b) => b.origin.file), [join(folder, 'part-1.csv'), join(folder, 'part-2.csv')]);
  });

  test('a glob that matches nothing fails with INPUT_NOT_FOUND', async () => {
    const summary = await failure(join(dir, 'nothing-*.csv'));
    assert.equal(summary.error?.code, 'INPUT_NOT_FOUND');
    assert.equal(summary.error?.file, join(dir, 'nothing-*.csv'));
  });

  test('.gz input is gunzipped', async () => {
    const path = await file(gzipSync('id,name,score\n1,a,1\n2,b,\n'), 'csv.gz');
    assert.deepEqual((await readAll(path, { schema: Row })).rows, [
      { id: 1, name: 'a', score: 1 },
      { id: 2, name: 'b', score: null },
    ]);
  });

  test('inferred types are the smallest that hold the sample, and widen with a warning', async () => {
    const lines = ['n,flag,city'];
    for (let i = 0; i < 50; i++) lines.push(`${i},${i % 2 === 0 ? 'true' : 'false'},${['Oslo', 'Rome'][i % 2]}`);
    lines.push('70000,true,Oslo');
    const path = await file(`${lines.join('\n')}\n`);
    const { rows, batches, summary } = await readAll(path, { sampleRows: 50 });
    assert.equal(rows.length, 51);
    assert.equal(batches[0].column('n').dtype, 'uint32');
    assert.equal(batches[0].column('flag').dtype, 'bool');
    assert.equal(batches[0].column('city').dtype, 'dictionary');
    assert.equal(rows[50].n, 70000);
    assert.deepEqual(summary.warnings, [
      {
        code: 'COLUMN_WIDENED',
        message: `column "n" widened from uint8 to uint32 at value "70000" (${path}:52)`,
        column: 'n',
        from: 'uint8',
        to: 'uint32',
        value: '70000',
        location: { file: path, line: 52 },
      },
    ]);
  });

  test('limit stops reading early', async () => {
    const lines = ['id,name,score'];
    for (let i = 0; i < 100; i++) lines.push(`${i},n${i},${i}`);
    const path = await file(`${lines.join('\n')}\n`);
    const sink = collect();
    const summary = await runOrThrow(pipeline().from(csv(path, { engine: 'csv-parse', schema: Row })).to(sink), { limit: 7 });
    assert.deepEqual(sink.rows.map((r) => r.id), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(summary.rows, { read: 7, written: 7, dropped: 0, rejected: 0 });
  });
});

describe('csv source: bad input', () => {
  test('an unclosed quote fails with CSV_QUOTE_NOT_CLOSED at the line and column where the quote opened', async () => {
    const path = await file('id,name,score\n1,a,1\n2,"oops,2\n3,c,3\n');
    const summary = await failure(path, { schema: Row });
    assert.deepEqual(summary.error, {
      code: 'CSV_QUOTE_NOT_CLOSED',
      message: `${path}:3:3: Quote not closed: the quoted field opened at line 3, column 3 runs to the end of the input`,
      file: path,
      line: 3,
      column: 3,
      byteOffset: 22,
      value: '"oops,2\n3,c,3\n',
    });
  });

  test('a record with more fields than the header fails with CSV_FIELD_COUNT at the first extra field', async () => {
    const path = await file('id,name,score\n1,a,1\n2,b,2,extra\n');
    const summary = await failure(path, { schema: Row });
    assert.deepEqual(summary.error, {
      code: 'CSV_FIELD_COUNT',
      message: `${path}:3:7: expected 3 fields as in the header, found 4`,
      file: path,
      line: 3,
      column: 7,
      expected: '3 fields',
      value: '4',
    });
  });

  test('a record with fewer fields than the header fails with CSV_FIELD_COUNT', async () => {
    const path = await file('id,name,score\n1,a\n');
    const summary = await failure(path, { schema: Row });
    assert.equal(summary.error?.code, 'CSV_FIELD_COUNT');
    assert.equal(summary.error?.line, 2);
    assert.equal(summary.error?.value, '2');
  });

  test('invalid UTF-8 fails with CSV_INVALID_UTF8, the byte offset, and its line and column', async () => {
    const path = await file(Buffer.concat([Buffer.from('id,name,score\n1,ab'), Buffer.from([0xc3, 0x28]), Buffer.from(',1\n')]));
    for (const engine of ['fast', 'csv-parse'] as const) {
      const summary = await failure(path, { schema: Row, engine });
      assert.deepEqual(summary.error, {
        code: 'CSV_INVALID_UTF8',
        message: `${path}:2:5: invalid UTF-8 at byte 18 (pass encoding: 'latin1' if the file is Latin-1)`,
        file: path,
        line: 2,
        column: 5,
        byteOffset: 18,
        expected: 'UTF-8 text',
      });
    }
  });

  test('a stray byte-order mark at the start of a later line (two files joined) fails with CSV_BOM', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const path = await file(Buffer.concat([bom, Buffer.from('id,name,score\n1,a,1\n'), bom, Buffer.from('id,name,score\n2,b,2\n')]));
    for (const engine of ['fast', 'csv-parse'] as const) {
      const summary = await failure(path, { schema: Row, engine });
      assert.equal(summary.error?.code, 'CSV_BOM', engine);
      assert.equal(summary.error?.file, path);
      assert.equal(summary.error?.line, 3);
      assert.equal(summary.error?.column, 1);
      assert.equal(summary.error?.byteOffset, 23);
      assert.match(summary.error!.message, /:3:1: a byte-order mark \(U\+FEFF\) at the start of a line/);
    }
    // Inside a line, U+FEFF is a character like any other; at the very start it is skipped.
    const inside = await file(Buffer.concat([bom, Buffer.from('id,name,score\n1,a'), bom, Buffer.from('b,1\n')]));
    const sink = collect();
    await runOrThrow(pipeline().from(csv(inside, { schema: Row })).to(sink));
    assert.deepEqual(sink.rows.map((row) => row.name), ['a\ufeffb']);
  });

  test('a schema column missing from the header fails with SCHEMA_MISSING_COLUMN', async () => {
    const path = await file('id,title,score\n1,a,1\n');
    const summary = await failure(path, { schema: Row });
    assert.deepEqual(summary.error, {
      code: 'SCHEMA_MISSING_COLUMN',
      message: `${path}:1: the header has no column "name" (it has "id", "title", "score")`,
      file: path,
      line: 1,
      column: 'name',
      expected: 'a column named name',
    });
  });

  test('a schema violation without rejects fails the run naming file, line, column, value and rule', async () => {
    const path = await file('id,name,score\n1,a,1\n201,b,2\n3,c,3\n');
    const summary = await failure(path, { schema: Row });
    assert.deepEqual(summary.error, {
      code: 'SCHEMA_VIOLATION',
      message: `${path}:3: column "id": "201" is not valid (expected integer >= 0 <= 200)`,
      file: path,
      line: 3,
      column: 'id',
      value: '201',
      rule: 'integer >= 0 <= 200',
      pipeline: 'pipeline',
    });
    assert.equal(summary.rows.rejected, 0);
  });

  test('with rejects, bad rows go to the NDJSON file with their facts and the others are written', async () => {
    const path = await file('id,name,score\n1,a,1\n201,b,2\n3,c,x\n4,d,4\n');
    const rejectsPath = join(dir, 'rejects-ok', 'rejects.ndjson');
    const sink = collect();
    const summary = await runOrThrow(
      pipeline({ rejects: { path: rejectsPath, max: 5 } })
        .from(csv(path, { engine: 'csv-parse', schema: Row }))
        .to(sink),
    );
    assert.deepEqual(sink.rows.map((r) => r.id), [1, 4]);
    assert.deepEqual(summary.rows, { read: 4, written: 2, dropped: 0, rejected: 2 });
    assert.equal(summary.rejectsPath, rejectsPath);
    const rejected = (await readFile(rejectsPath, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(rejected, [
      {
        code: 'SCHEMA_VIOLATION',
        message: `${path}:3: column "id": "201" is not valid (expected integer >= 0 <= 200)`,
        file: path,
        line: 3,
        column: 'id',
        value: '201',
        rule: 'integer >= 0 <= 200',
        pipeline: 'pipeline',
      },
      {
        code: 'SCHEMA_VIOLATION',
        message: `${path}:4: column "score": "x" is not valid (expected number)`,
        file: path,
        line: 4,
        column: 'score',
        value: 'x',
        rule: 'number',
        pipeline: 'pipeline',
      },
    ]);
  });

  test('once more than rejects.max rows were rejected the run fails with REJECT_LIMIT, and the rejects file explains it', async () => {
    const path = await file('id,name,score\n1,a,1\n201,b,2\n202,c,3\n203,d,4\n4,e,5\n');
    const rejectsPath = join(dir, 'rejects-limit.ndjson');
    const summary = await failure(path, { schema: Row }, { path: rejectsPath, max: 1 });
    assert.deepEqual(summary.error, {
      code: 'REJECT_LIMIT',
      message: `More than 1 rows were rejected (see ${rejectsPath}); the last: ${path}:4: column "id": "202" is not valid (expected integer >= 0 <= 200)`,
      file: path,
      line: 4,
      column: 'id',
      value: '202',
      rule: 'integer >= 0 <= 200',
      pipeline: 'pipeline',
    });
    assert.equal(summary.rows.rejected, 2);
    const lines = (await readFile(rejectsPath, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((l) => l.line), [3, 4]);
  });
});

describe('empty results still carry their columns', () => {
  for (const engine of ['fast', 'csv-parse'] as const) {
    test(`a header-only input and a filter that drops every row both write a CSV with its header line (${engine})`, async () => {
      const headerOnly = await file('id,name,score\n');
      const out1 = join(dir, `empty-${engine}-1.csv`);
      const first = await runOrThrow(pipeline().from(csv(headerOnly, { schema: Row, engine })).to(toCsv(out1)));
      assert.deepEqual(first.rows, { read: 0, written: 0, dropped: 0, rejected: 0 });
      assert.equal(await readFile(out1, 'utf8'), 'id,name,score\n');

      const rows = await file('id,name,score\n1,a,1\n2,b,2\n');
      const out2 = join(dir, `empty-${engine}-2.csv`);
      const second = await runOrThrow(
        pipeline()
          .from(csv(rows, { schema: Row, engine }))
          .filter((row) => (row.score ?? 0) > 100)
          .to(toCsv(out2)),
      );
      assert.deepEqual(second.rows, { read: 2, written: 0, dropped: 2, rejected: 0 });
      assert.equal(await readFile(out2, 'utf8'), 'id,name,score\n');
    });
  }
});
