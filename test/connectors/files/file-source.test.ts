/**
 * What every file source gets from the skeleton (connectors/files/file-source.ts), checked the same way
 * for each: `--limit` counts rows read from the input (handed on and rejected), and nothing past it is
 * read, rejected or counted; a file cut short by the limit is not finished; an input of no rows still
 * passes on its columns; sample() gives what inference sees.
 */
import assert from 'node:assert/strict';
import { access, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { compileSchema, csv, type FileFormat, fileSource, ndjson, pipeline, run, type Source, toCsv } from '../../../src/index.ts';
import { FINISHED_FILES_STATE_KEY } from '../../../src/connectors/files/finished-files.ts';
import type { RunStateStore } from '../../../src/runtime/run.ts';
import { collect, tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-file-source-');
let files = 0;

const N = z.object({ n: z.number() });

/** One value per line; a value that is not a number is rejected by `N`. */
interface Format {
  name: string;
  extension: string;
  header: string;
  line(value: string): string;
  source(path: string, schema?: z.ZodObject, incremental?: boolean): Source;
}

const FORMATS: Format[] = [
  { name: 'csv, fast engine', extension: 'csv', header: 'n\n', line: (v) => v, source: (path, schema, incremental) => csv(path, { schema, engine: 'fast', incremental }) },
  { name: 'csv, csv-parse engine', extension: 'csv', header: 'n\n', line: (v) => v, source: (path, schema, incremental) => csv(path, { schema, engine: 'csv-parse', incremental }) },
  {
    name: 'ndjson',
    extension: 'ndjson',
    header: '',
    line: (v) => JSON.stringify({ n: /^\d+$/.test(v) ? Number(v) : v }),
    source: (path, schema, incremental) => ndjson(path, { schema, incremental }),
  },
];

async function write(format: Format, values: readonly string[]): Promise<string> {
  const path = join(dir, `input-${++files}.${format.extension}`);
  await writeFile(path, `${format.header}${values.map((v) => format.line(v)).join('\n')}\n`);
  return path;
}

async function limited(format: Format, path: string, limit: number, state?: RunStateStore, source = format.source(path, N)) {
  const rejectsPath = join(dir, `rejects-${++files}.ndjson`);
  const sink = collect<{ n: number }>();
  const summary = await run(pipeline({ rejects: { path: rejectsPath } }).from(source).to(sink), { limit, state });
  assert.equal(summary.status, 'succeeded', summary.error?.message);
  const rejects = await readFile(rejectsPath, 'utf8').then(
    (text) => text.trim().split('\n').map((line) => JSON.parse(line) as { line: number; value: string }),
    () => [],
  );
  await rm(rejectsPath, { force: true });
  return { summary, written: sink.rows.map((row) => row.n), rejects };
}

/** The line of the k-th value (0-based): CSV files have a header line first. */
const lineOf = (format: Format, k: number) => k + 1 + (format.header === '' ? 0 : 1);

for (const format of FORMATS) {
  describe(`--limit means rows read from the input: ${format.name}`, () => {
    const values = ['1', '2', 'x', '4', 'y'];

    test('issue repro: --limit 1 over 1, 2, x, 4, y reads one row, writes it and rejects nothing', async () => {
      const path = await write(format, values);
      const { summary, written, rejects } = await limited(format, path, 1);
      assert.deepEqual(summary.rows, { read: 1, written: 1, dropped: 0, rejected: 0 });
      assert.deepEqual(written, [1]);
      assert.deepEqual(rejects, []);
    });

    test('every limit from 1 to past the end: read = min(limit, rows), and only the rows within it are written or rejected', async () => {
      const path = await write(format, values);
      for (let limit = 1; limit <= values.length + 1; limit++) {
        const within = values.slice(0, limit);
        const { summary, written, rejects } = await limited(format, path, limit);
        const good = within.filter((v) => /^\d+$/.test(v)).map(Number);
        const bad = within.flatMap((v, k) => (/^\d+$/.test(v) ? [] : [lineOf(format, k)]));
        assert.deepEqual(summary.rows, { read: within.length, written: good.length, dropped: 0, rejected: bad.length }, `limit ${limit}`);
        assert.deepEqual(written, good, `limit ${limit}`);
        assert.deepEqual(rejects.map((r) => r.line), bad, `limit ${limit}`);
      }
    });

    test('over many batches, with a reject in every seven rows: the limit is exact, wherever it falls', async () => {
      const many = Array.from({ length: 5000 }, (_, k) => (k % 7 === 3 ? `bad${k}` : String(k)));
      const path = await write(format, many);
      for (const limit of [1, 4, 1023, 1024, 1025, 3001, 4999]) {
        const within = many.slice(0, limit);
        const { summary, written, rejects } = await limited(format, path, limit);
        const good = within.filter((v) => /^\d+$/.test(v)).map(Number);
        assert.equal(summary.rows.read, limit, `limit ${limit}`);
        assert.deepEqual(written, good, `limit ${limit}`);
        assert.equal(rejects.length, within.length - good.length, `limit ${limit}`);
        assert.ok(rejects.every((r) => r.line <= lineOf(format, limit - 1)), `limit ${limit}: a reject past the limit`);
      }
    });

    test('across the files of a glob the limit counts on; a file cut short by it is not finished', async () => {
      const first = await write(format, ['1', 'x', '3']);
      const second = await write(format, ['4', '5', 'y', '7']);
      const pattern = `{${first.split('/').pop()},${second.split('/').pop()}}`;
      let saved: Record<string, unknown> = {};
      const state: RunStateStore = { committed: {}, saveIn: async () => false, save: async (value) => void (saved = value) };
      const incremental = format.source(join(dir, pattern), N, true);
      const { summary, written, rejects } = await limited(format, pattern, 5, state, incremental);
      assert.deepEqual(summary.rows, { read: 5, written: 4, dropped: 0, rejected: 1 });
      assert.deepEqual(written, [1, 3, 4, 5]);
      assert.deepEqual(rejects.map((r) => r.line), [lineOf(format, 1)]);
      const finished = Object.keys((saved[FINISHED_FILES_STATE_KEY] ?? {}) as Record<string, unknown>);
      assert.deepEqual(finished.map((path) => path.split('/').pop()), [first.split('/').pop()]);
    });
  });
}

/** A new format written against the public surface only: one value per line, split in memory. */
const valueLines: FileFormat = {
  kind: 'lines',
  async sample(file, rows) {
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    return { names: ['n'], rows: lines.slice(0, rows).map((line) => [line]) };
  },
  async prepare() {
    return { plans: compileSchema(N).columns, engine: 'split' };
  },
  async *read(file, _plan, context) {
    const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '');
    let decoder = context.decoder();
    for (const [k, text] of lines.entries()) {
      const violation = decoder.append([text], k + 1);
      if (violation !== null) await context.reject(violation, { file, line: k + 1, column: violation.column });
      if (decoder.full) {
        yield decoder.flush({ file });
        decoder = context.decoder();
      }
    }
    if (decoder.length > 0) yield decoder.flush({ file });
  },
};

describe('a new format gets the skeleton for free', () => {
  const format: Format = { name: 'lines', extension: 'txt', header: '', line: (v) => v, source: (path) => fileSource(path, valueLines) };

  test('--limit counts its rows read, rejected ones included, and stops there', async () => {
    const path = await write(format, ['1', '2', 'x', '4', 'y']);
    const { summary, written, rejects } = await limited(format, path, 3);
    assert.equal(summary.source.kind, 'lines');
    assert.equal(summary.source.engine, 'split');
    assert.deepEqual(summary.rows, { read: 3, written: 2, dropped: 0, rejected: 1 });
    assert.deepEqual(written, [1, 2]);
    assert.deepEqual(rejects.map((r) => r.line), [3]);
  });

  test('an empty file passes on its columns', async () => {
    const path = join(dir, `empty-${++files}.txt`);
    await writeFile(path, '');
    const sink = collect();
    await run(pipeline().from(fileSource(path, valueLines)).to(sink));
    assert.deepEqual(sink.batches.map((batch) => [batch.length, batch.names]), [[0, ['n']]]);
  });
});

describe('file sources: sample() and the empty input', () => {
  test('sample() gives the column names and the first rows as the file has them', async () => {
    const csvPath = await write(FORMATS[0], ['1', '2', 'x']);
    assert.deepEqual(await csv(csvPath).sample!(2, { signal: new AbortController().signal }), { names: ['n'], rows: [['1'], ['2']] });
    const ndjsonPath = await write(FORMATS[2], ['1', '2', 'x']);
    assert.deepEqual(await ndjson(ndjsonPath).sample!(5, { signal: new AbortController().signal }), { names: ['n'], rows: [[1], [2], ['x']] });
  });

  for (const format of FORMATS) {
    test(`${format.name}: an input of no rows passes on one empty batch with the columns`, async () => {
      const path = join(dir, `empty-${++files}.${format.extension}`);
      await writeFile(path, format.header);
      const sink = collect();
      const summary = await run(pipeline().from(format.source(path, N)).to(sink));
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      assert.equal(sink.batches.length, 1);
      assert.equal(sink.batches[0].length, 0);
      assert.deepEqual(sink.batches[0].names, ['n']);
    });
  }
});

describe('a file that changes while it is read fails the run, naming it (INPUT_CHANGED)', () => {
  /** Enough lines that the readers (1 MB reads, one ahead) are far from the end when the first batch is out. */
  const LINES = 600_000;
  const values = Array.from({ length: LINES }, (_, k) => `${k}.23`);

  const changes: { name: string; change: (path: string) => Promise<void>; says: RegExp }[] = [
    // The case: the file cut to half mid-run, its last record torn (`123.23` read as `1`).
    { name: 'cut to half its size', change: async (path) => truncate(path, Math.floor((await readFile(path)).length / 2) + 3), says: /shrank from \d+ to \d+ bytes/ },
    {
      name: 'rewritten in place at the same size',
      change: async (path) => {
        const handle = await open(path, 'r+');
        try {
          await handle.write(Buffer.from('9'), 0, 1, (await handle.stat()).size - 2);
        } finally {
          await handle.close();
        }
      },
      says: /was modified/,
    },
  ];

  for (const format of FORMATS) {
    for (const { name, change, says } of changes) {
      test(`${format.name}: ${name} after the first batch: the run fails and its output is not written`, async () => {
        const path = await write(format, values);
        const output = join(dir, `changed-${++files}.csv`);
        let changed = false;
        const summary = await run(
          pipeline()
            .from(format.source(path, N))
            .tap(async () => {
              if (changed) return;
              changed = true;
              await change(path);
            })
            .to(toCsv(output)),
          { memory: '16MB' },
        );
        assert.ok(changed);
        assert.equal(summary.status, 'failed');
        assert.equal(summary.error?.code, 'INPUT_CHANGED', summary.error?.message);
        assert.equal(summary.error?.file, path);
        assert.match(summary.error!.message, says);
        assert.ok(summary.error!.message.startsWith(path), summary.error!.message);
        assert.ok(summary.rows.read < LINES || name.includes('same size'), 'the change happened before the end was read');
        await assert.rejects(access(output), 'no output that looks complete');
      });
    }

    test(`${format.name}: a file left alone reads to the end and succeeds`, async () => {
      const path = await write(format, values.slice(0, 10_000));
      const sink = collect();
      const summary = await run(pipeline().from(format.source(path, N)).to(sink));
      assert.equal(summary.status, 'succeeded', summary.error?.message);
      assert.equal(summary.rows.read, 10_000);
    });
  }
});
