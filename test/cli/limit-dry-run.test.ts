/**
 * `--limit` and `--dry-run` through the real `etl run`: the limit counts rows read from the input
 * (handed on and rejected), and nothing past it is read, rejected, counted or recorded; a dry run
 * writes nothing: no output, no rejects file (an existing one is left as it was), no state, no history.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-limit-'));
  await writeFile(join(dir, 'numbers.csv'), 'n\n1\n2\nx\n4\ny\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A pipeline file in a folder of its own, so its `.sluice/` state folder is its alone. */
async function pipelineFile(name: string, options: { incremental?: boolean } = {}): Promise<{ file: string; folder: string; out: string; rejects: string }> {
  const folder = join(dir, name);
  await mkdir(folder, { recursive: true });
  const out = join(folder, 'out.csv');
  const rejects = join(folder, 'rejects.ndjson');
  const file = join(folder, 'pipeline.ts');
  await writeFile(
    file,
    `import { z } from 'zod';
import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, rejects: { path: ${JSON.stringify(rejects)} } })
  .from(csv(${JSON.stringify(join(dir, 'numbers.csv'))}, { schema: z.object({ n: z.number() }), incremental: ${options.incremental === true} }))
  .to(toCsv(${JSON.stringify(out)}));
`,
  );
  return { file, folder, out, rejects };
}

describe('etl run --limit', () => {
  test('--limit 1 over 1, 2, x, 4, y reads one row and writes it; nothing past it is rejected, counted or recorded', async () => {
    const { file, folder, out, rejects } = await pipelineFile('limit-one');
    const report = join(folder, 'report.json');
    const result = await runCli(['run', file, '--limit', '1', '--report', report]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /rows\s+read 1, written 1, dropped 0, rejected 0/);
    assert.deepEqual(JSON.parse(await readFile(report, 'utf8')).rows, { read: 1, written: 1, dropped: 0, rejected: 0 });
    assert.equal(await readFile(out, 'utf8'), 'n\n1\n');
    assert.equal(existsSync(rejects), false, 'no rejects file: no row within the limit was rejected');
    const history = (await readFile(join(folder, '.sluice', 'runs.ndjson'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(
      history.map((record) => [record.rowsIn, record.rowsOut, record.rowsRejected]),
      [[1, 1, 0]],
    );
  });

  test('--limit 4 counts the reject within it and writes only that one', async () => {
    const { file, out, rejects } = await pipelineFile('limit-four');
    const result = await runCli(['run', file, '--limit', '4', '--quiet']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(out, 'utf8'), 'n\n1\n2\n4\n');
    const rejected = (await readFile(rejects, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(rejected.map((row) => [row.line, row.value]), [[4, 'x']]);
  });
});

describe('etl run --dry-run writes nothing', () => {
  test('--dry-run --limit: no output, the existing rejects file untouched, no state, no lock, no history', async () => {
    const { file, folder, out, rejects } = await pipelineFile('dry', { incremental: true });
    const earlier = '{"code":"SCHEMA_VIOLATION","message":"from a real run"}\n';
    await writeFile(rejects, earlier);
    const result = await runCli(['run', file, '--dry-run', '--limit', '5']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /dry run finished/);
    assert.match(result.stdout, /rows\s+read 5, written 3, dropped 0, rejected 2/);
    assert.match(result.stdout, /rejects\s+.*\(dry run: not written\)/);
    assert.equal(existsSync(out), false, 'no output');
    assert.equal(await readFile(rejects, 'utf8'), earlier, 'the rejects file of a real run is left as it was');
    assert.equal(existsSync(join(folder, '.sluice')), false, 'no state, lock or history folder');
  });

  test('--dry-run alone prints the plan and creates nothing', async () => {
    const { file, folder, out, rejects } = await pipelineFile('dry-plan', { incremental: true });
    const result = await runCli(['run', file, '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /column\s+n\s+float64/);
    assert.deepEqual([existsSync(out), existsSync(rejects), existsSync(join(folder, '.sluice'))], [false, false, false]);
  });

  test('--dry-run says which inferred column had no value in the sample, as the summary does', async () => {
    const folder = join(dir, 'dry-all-null');
    await mkdir(folder, { recursive: true });
    const input = join(folder, 'late.csv');
    await writeFile(input, 'id,n\n1,\n2,\n3,5\n');
    const file = join(folder, 'pipeline.ts');
    await writeFile(
      file,
      `import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: 'dry-all-null' }).from(csv(${JSON.stringify(input)}, { sampleRows: 2 })).to(toCsv(${JSON.stringify(join(folder, 'out.csv'))}));
`,
    );
    const result = await runCli(['run', file, '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /column\s+n\s+string nullable \(kept as text: no value in the 2 sampled rows\)/);
    assert.match(result.stdout, /\nwarning +column "n" has no value in the 2 sampled rows of .*late\.csv, so it is read as text/);
  });
});
