import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { partSizing } from '../../src/connectors/files/file-source.ts';
import { csv, pipeline, run, toCsv } from '../../src/index.ts';
import { loadPipeline } from '../../src/ops/load.ts';
import { threadTestHooks } from '../../src/runtime/threads/pool.ts';
import type { RunSummary } from '../../src/runtime/summary.ts';
import { random } from '../support/random.ts';
import { tempDir } from '../support/fakes.ts';
import { runCli } from '../support/cli.ts';

const INDEX = pathToFileURL(join(import.meta.dirname, '../../src/index.ts')).href;
// The pipeline files live in a temporary folder, where 'zod' does not resolve.
const ZOD = import.meta.resolve('zod');
const dir = await tempDir('sluice-threads-');
const minBytes = partSizing.minBytes;

before(() => {
  // Parts of ~16 KB: the small files of these tests split into tens of parts, cut in all kinds of places.
  partSizing.minBytes = 16 * 1024;
});

after(() => {
  partSizing.minBytes = minBytes;
});

/** A CSV with a BOM, CRLF and LF line ends, quoted fields with line breaks, delimiters and quotes, empty lines, values that break the schema, and an id that widens. */
async function trickyCsv(rows: number, seed = 3): Promise<string> {
  const next = random(seed);
  const lines = ['\uFEFFid,status,note,amount'];
  for (let i = 1; i <= rows; i++) {
    const r = next();
    const note = r < 0.1 ? `"two\nlines ${i}"` : r < 0.15 ? `"a, ""quoted"" one\r\nand more"` : r < 0.3 ? '' : `plain ${i % 17}`;
    const amount = i % 997 === 0 ? 'oops' : (next() * 1000).toFixed(2);
    // Past the 10,000 rows inference samples: the id column widens there.
    const id = i === Math.floor(rows * 0.9) ? 70000 + i : i;
    lines.push(`${id},${['paid', 'shipped', 'cancelled'][i % 3]},${note},${amount}${i % 2 === 0 ? '\r' : ''}`);
    if (i % 301 === 0) lines.push('');
  }
  const file = join(dir, `tricky-${rows}-${seed}.csv`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** A pipeline file (the workers import it): CSV → filter → derive → CSV, rejects to a file. */
async function pipelineFile(
  name: string,
  input: string,
  body = ".filter((row) => row.status !== 'cancelled').derive({ cents: (row) => Math.round(row.amount * 100) })",
  options = '',
  source = `csv(${JSON.stringify(input)}, { schema: process.env.INFER ? undefined : Row })`,
): Promise<string> {
  const file = join(dir, `${name}.mts`);
  const output = join(dir, `${name}.out.csv`);
  await writeFile(
    file,
    `import { z } from ${JSON.stringify(ZOD)};
import { csv, ndjson, pipeline, toCsv } from ${JSON.stringify(INDEX)};
const Row = z.object({ id: z.int(), status: z.enum(['paid', 'shipped', 'cancelled']), note: z.string().nullable(), amount: z.number() });
export default pipeline({ name: ${JSON.stringify(name)}, rejects: { path: ${JSON.stringify(join(dir, `${name}.rejects.ndjson`))} }${options} })
  .from(${source})
  ${body}
  .to(toCsv(${JSON.stringify(output)}));
`,
  );
  return file;
}

interface Outcome {
  summary: RunSummary;
  output?: string;
  rejects?: string;
}

async function runFile(file: string, threads: number, env: Record<string, string> = {}): Promise<Outcome> {
  // Set on process.env itself (not a copy put in its place): workers start with this environment.
  Object.assign(process.env, env);
  try {
    const summary = await run(await loadPipeline(file), { threads });
    const base = file.replace(/\.mts$/, '');
    const output = existsSync(`${base}.out.csv`) ? await readFile(`${base}.out.csv`, 'utf8') : undefined;
    const rejects = existsSync(`${base}.rejects.ndjson`) ? await readFile(`${base}.rejects.ndjson`, 'utf8') : undefined;
    return { summary, output, rejects };
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
  }
}

function rowsInvariant(summary: RunSummary): void {
  const { read, written, dropped, rejected } = summary.rows;
  assert.equal(read, written + dropped + rejected, 'rows read = written + dropped + rejected');
  assert.ok(summary.memory.peakReserved <= summary.memory.budget, 'peak reserved ≤ budget');
}

test('threads: 2 writes what one thread writes: rows, rejects, warnings and stage counts, over BOM, CRLF, quoted line breaks and bad values', async () => {
  const input = await trickyCsv(12_000);
  for (const infer of [false, true]) {
    const file = await pipelineFile(`same-${infer}`, input);
    const env: Record<string, string> = infer ? { INFER: '1' } : {};
    const one = await runFile(file, 1, env);
    const two = await runFile(file, 2, env);
    assert.equal(one.summary.status, 'succeeded', JSON.stringify(one.summary.error));
    assert.equal(two.summary.status, 'succeeded', JSON.stringify(two.summary.error));
    assert.equal(two.summary.source.threads?.used, 2);
    assert.ok(two.summary.source.threads!.parts! >= 8, `${two.summary.source.threads!.parts} parts`);
    assert.deepEqual(two.summary.source.threads!.stages, ['filter', 'derive']);
    assert.equal(two.output, one.output);
    assert.equal(two.rejects, one.rejects);
    assert.deepEqual(two.summary.rows, one.summary.rows);
    assert.deepEqual(
      two.summary.stages.map(({ name, rowsIn, rowsOut }) => ({ name, rowsIn, rowsOut })),
      one.summary.stages.map(({ name, rowsIn, rowsOut }) => ({ name, rowsIn, rowsOut })),
    );
    assert.deepEqual(two.summary.warnings, one.summary.warnings);
    if (!infer) assert.ok(one.summary.rows.rejected > 5);
    else assert.ok(one.summary.warnings.some((warning) => warning.code === 'COLUMN_WIDENED'));
    rowsInvariant(two.summary);
    const workers = two.summary.source.threads!.workers!;
    assert.equal(
      workers.reduce((sum, worker) => sum + worker.rows, 0),
      two.summary.stages[1].rowsOut,
      'the workers handed on the rows the last stage run in them passed on',
    );
  }
});

test('ordered: false loses and repeats no row (the same rows, in some order)', async () => {
  const input = await trickyCsv(6_000, 5);
  const file = await pipelineFile('unordered', input, '.filter((row) => row.id % 2 === 0)', ', ordered: false');
  const one = await runFile(file, 1);
  const two = await runFile(file, 2);
  assert.equal(two.summary.status, 'succeeded', JSON.stringify(two.summary.error));
  const sorted = (text: string) => text.trimEnd().split('\n').slice(1).sort();
  assert.deepEqual(sorted(two.output!), sorted(one.output!));
  assert.equal(two.output!.split('\n')[0], one.output!.split('\n')[0]);
  rowsInvariant(two.summary);
});

test('an error in the input fails the run at the file:line:column one thread names, and leaves no output', async () => {
  const lines = ['id,status,note,amount'];
  for (let i = 1; i <= 8000; i++) lines.push(i === 6100 ? `${i},paid,"bad "quote,1` : `${i},paid,"x\ny",${i}`);
  const input = join(dir, 'bad-quote.csv');
  await writeFile(input, `${lines.join('\n')}\n`);
  const file = await pipelineFile('bad-quote', input);
  const one = await runFile(file, 1);
  const two = await runFile(file, 2);
  assert.equal(one.summary.status, 'failed');
  assert.equal(two.summary.status, 'failed');
  assert.equal(two.summary.error!.code, 'CSV_INVALID_QUOTE');
  assert.deepEqual(two.summary.error, one.summary.error);
  assert.equal(two.output, undefined, 'no output file');
});

test('a stage that throws in a worker fails the run as on one thread, naming the stage', async () => {
  const input = await trickyCsv(6_000, 7);
  const file = await pipelineFile('throws', input, ".filter((row) => { if (row.id === 4321) throw new Error('no 4321'); return true; })");
  const one = await runFile(file, 1);
  const two = await runFile(file, 2);
  assert.equal(two.summary.status, 'failed');
  assert.equal(two.summary.error!.code, 'STAGE_FAILED');
  assert.equal(two.summary.error!.message, one.summary.error!.message);
  assert.equal(two.summary.error!.stage, 'filter');
  assert.equal(two.output, undefined);
});

test('a worker killed mid-run fails the run with WORKER_FAILED, never hangs, and leaves no output', async () => {
  const input = await trickyCsv(20_000, 9);
  const file = await pipelineFile('killed', input, '.filter((row) => row.id > 0)');
  threadTestHooks.onWorker = (worker, index) => {
    if (index !== 1) return;
    // Once it has loaded the pipeline and taken a part.
    worker.once('message', () => setTimeout(() => void worker.terminate(), 50));
  };
  try {
    const two = await runFile(file, 2);
    assert.equal(two.summary.status, 'failed');
    assert.equal(two.summary.error!.code, 'WORKER_FAILED');
    assert.match(two.summary.error!.message, /^worker thread 2 exited with code 1: the run is stopped and its output not committed\.$/);
    assert.equal(two.output, undefined);
  } finally {
    threadTestHooks.onWorker = undefined;
  }
});

test('threads above 1 for a pipeline not loaded from its file read on one thread, and say why', async () => {
  const input = await trickyCsv(2_000, 11);
  const output = join(dir, 'inline.out.csv');
  const summary = await run(pipeline({ name: 'inline' }).from(csv(input)).to(toCsv(output)), { threads: 2 });
  assert.equal(summary.status, 'succeeded', JSON.stringify(summary.error));
  assert.deepEqual(summary.source.threads, { used: 1, asked: 2, reason: 'the pipeline was not loaded from its file (etl run, loadPipeline), which each worker imports' });
  assert.ok(summary.warnings.some((warning) => warning.code === 'THREADS_NOT_USED'));
});

test('NDJSON splits into line ranges, and a glob into its files (a .gz file one part): the same output as one thread', async () => {
  const next = random(13);
  const ndjsonLines: string[] = [];
  for (let i = 1; i <= 9000; i++) {
    ndjsonLines.push(i === 7777 ? '{"id": 7777, "status": "paid", "note": "broken' : JSON.stringify({ id: i, status: ['paid', 'shipped', 'cancelled'][i % 3], note: next() < 0.2 ? null : `n\u00e9 ${i}`, amount: Math.round(next() * 1e5) / 100 }));
  }
  const good = join(dir, 'lines.ndjson');
  await writeFile(good, `${ndjsonLines.filter((_, k) => k !== 7776).join('\n')}\n`);
  const bad = join(dir, 'bad-lines.ndjson');
  await writeFile(bad, `${ndjsonLines.join('\n')}\n`);
  const folder = join(dir, 'glob');
  await mkdir(folder);
  for (const [k, rows] of [2000, 3000, 2500].entries()) await copyFile(await trickyCsv(rows, 20 + k), join(folder, `part-${k}.csv`));
  await writeFile(join(folder, 'part-3.csv.gz'), gzipSync(await readFile(await trickyCsv(2500, 30))));
  for (const [name, source] of [
    ['ndjson', `ndjson(${JSON.stringify(good)}, { schema: Row })`],
    ['ndjson-bad', `ndjson(${JSON.stringify(bad)}, { schema: Row })`],
    ['glob', `csv(${JSON.stringify(join(folder, 'part-*'))}, { schema: Row })`],
  ]) {
    const file = await pipelineFile(name, '', '.filter((row) => row.status !== "cancelled")', '', source);
    const one = await runFile(file, 1);
    const two = await runFile(file, 2);
    assert.equal(two.summary.source.threads?.used, 2, name);
    assert.ok(two.summary.source.threads!.parts! >= 4, `${name}: ${two.summary.source.threads!.parts} parts`);
    assert.equal(two.summary.status, one.summary.status, name);
    assert.deepEqual(two.summary.error, one.summary.error, name);
    assert.equal(two.output, one.output, name);
    if (name === 'ndjson-bad') {
      assert.equal(two.summary.error!.line, 7777);
      continue;
    }
    assert.deepEqual(two.summary.rows, one.summary.rows, name);
    rowsInvariant(two.summary);
  }
});

test('etl run --threads 2 runs the pipeline file on two workers and its summary says so', async () => {
  const input = await trickyCsv(3_000, 40);
  const file = await pipelineFile('cli', input);
  // The CLI child plans parts of 4 MB and more: a file this small would be one part, so it says why.
  const small = await runCli(['run', file, '--threads', '2']);
  assert.equal(small.code, 0, small.stderr);
  assert.match(small.stdout + small.stderr, /threads {4}1 of 2 asked: the input is one part/);
  const output = await readFile(join(dir, 'cli.out.csv'), 'utf8');
  const one = await runFile(file, 1);
  assert.equal(output, one.output);
});
