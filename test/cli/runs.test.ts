/**
 * `etl runs pipeline.ts` reads the history without running the pipeline file's top-level code when it
 * need not: with `--state` given, and when loading the file fails (a lookup at load, an environment
 * variable it needs), it takes the file's base name and, without `--state`, the `.sluice/` folder next to it.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';

let dir: string;
let file: string;
let marker: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-runs-'));
  await writeFile(join(dir, 'in.csv'), 'n\n1\n2\n');
  await mkdir(join(dir, 'p'));
  file = join(dir, 'p', 'orders.ts');
  marker = join(dir, 'loaded');
  // Top-level code that leaves a mark, and fails unless NEEDED is set: what `etl runs` should not need.
  await writeFile(
    file,
    `import { writeFileSync } from 'node:fs';
import { csv, pipeline, toCsv } from 'sluice';
writeFileSync(${JSON.stringify(marker)}, 'loaded');
if (process.env.NEEDED !== '1') throw new Error('NEEDED is not set');
export default pipeline().from(csv(${JSON.stringify(join(dir, 'in.csv'))})).to(toCsv(${JSON.stringify(join(dir, 'out.csv'))}));
`,
  );
  const ran = await runCli(['run', file, '--quiet'], { env: { ...process.env, NEEDED: '1' } });
  assert.equal(ran.code, 0, ran.stderr);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a pipeline file that fails to load: its runs under its base name, from the .sluice folder next to it, saying so', async () => {
  const result = await runCli(['runs', file, '--json'], { env: { ...process.env, NEEDED: '' } });
  assert.equal(result.code, 0, result.stderr);
  const records = JSON.parse(result.stdout);
  assert.deepEqual(records.map((record: { pipeline: string; status: string }) => [record.pipeline, record.status]), [['orders', 'succeeded']]);
  assert.match(result.stderr, /could not be loaded \(.*NEEDED is not set.*\); showing the runs of "orders" \(its file name\) in .*\.sluice/);
});

test('with --state, the file is not loaded at all', async () => {
  await rm(marker, { force: true });
  const result = await runCli(['runs', file, '--state', join(dir, 'p', '.sluice'), '--json'], { env: { ...process.env, NEEDED: '1' } });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).map((record: { pipeline: string }) => record.pipeline), ['orders']);
  assert.match(result.stderr, /not loaded with --state: showing the runs of "orders" \(its file name; give the pipeline.s name if it has another\)/);
  await assert.rejects(import('node:fs/promises').then((fs) => fs.access(marker)), 'the top-level code did not run');
});
