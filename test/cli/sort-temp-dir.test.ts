import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { interruptOnceWritten, runCli } from '../support/cli.ts';
import { random } from '../support/random.ts';

let dir: string;
const ROWS = 150_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-sort-cli-'));
  const next = random(3);
  const lines = ['id,key,label'];
  for (let i = 0; i < ROWS; i++) lines.push(`${i},${Math.floor(next() * 1_000_000)},label number ${i} of the sort test`);
  await writeFile(join(dir, 'in.csv'), `${lines.join('\n')}\n`);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pipelineFile(name: string, slowMs: number): Promise<string> {
  const file = join(dir, `${name}.ts`);
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, batchRows: 2000 })
  .from(csv(${JSON.stringify(join(dir, 'in.csv'))}))
  .tap(async () => { await new Promise((resolve) => setTimeout(resolve, ${slowMs})); })
  .sort({ column: 'key', descending: true })
  .to(toCsv(${JSON.stringify(join(dir, 'out', `${name}.csv`))}));
`,
  );
  return file;
}

test('etl run --temp-dir: the sort spills its runs there, the summary says so, and nothing is left after', async () => {
  const scratch = join(dir, 'scratch-ok');
  await mkdir(scratch);
  const file = await pipelineFile('sorted', 0);
  // Generous timeouts: the machine running the tests may be shared and slow.
  const dry = await runCli(['run', file, '--dry-run', '--temp-dir', scratch], { timeoutMs: 300_000 });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /stage {6}tap\nstage {6}sort by key desc\n/);
  assert.match(dry.stdout, new RegExp(`temp {7}${scratch.replaceAll('/', '\\/')}`));

  const result = await runCli(['run', file, '--memory', '4MB', '--temp-dir', scratch, '--report', join(dir, 'report.json')], { timeoutMs: 300_000 });
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.match(result.stdout, /stage {6}sort {9}in 150,000, out 150,000, .*rows held [\d,]+, spilled [\d.]+ [KM]B in \d+ runs/);
  const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
  const sortStage = report.stages.find((stage: { name: string }) => stage.name === 'sort');
  assert.ok(sortStage.spilledRuns >= 2 && sortStage.spilledBytes > 0 && sortStage.peakRows < ROWS, JSON.stringify(sortStage));
  assert.deepEqual(await readdir(scratch), [], 'the run folder is removed');
  const keys = (await readFile(join(dir, 'out', 'sorted.csv'), 'utf8'))
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split(',')[1]));
  assert.equal(keys.length, ROWS);
  for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1] >= keys[i], `row ${i} out of order`);
});

test('SIGINT while the sort is spilling: exit 130, and no spill file or folder is left in --temp-dir', async () => {
  const scratch = join(dir, 'scratch-sigint');
  await mkdir(scratch);
  const file = await pipelineFile('interrupted', 40);
  const { result, written } = await interruptOnceWritten(['run', file, '--memory', '4MB', '--temp-dir', scratch], scratch, '.run');
  assert.ok(written, 'a run file was written before the interrupt');
  assert.equal(result.code, 130, result.stderr + result.stdout);
  assert.match(result.stdout, /interrupted: FAILED/);
  assert.deepEqual(await readdir(scratch), [], 'no temporary file or folder left behind');
});
