/**
 * `etl top` against real runs: two `etl run` child processes publish their figures to a private folder
 * while they go, `etl top` in a pseudo-terminal (util-linux `script`) shows both, and the files are gone
 * once the runs end; a file left by a process that died is neither shown nor kept.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.ts';

const etl = fileURLToPath(new URL('../../bin/etl.js', import.meta.url));
let dir: string;
let runsDir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-top-'));
  runsDir = await mkdtemp(join(tmpdir(), 'sluice-top-runs-'));
  await writeFile(join(dir, 'in.csv'), `n\n${Array.from({ length: 30_000 }, (_, i) => i).join('\n')}\n`);
  for (const name of ['slow-orders', 'slow-invoices']) {
    // Held on purpose: batches go on only once the test writes the release file, so both runs are
    // still going while top looks, however slow the machine.
    await writeFile(
      join(dir, `${name}.ts`),
      `import { existsSync } from 'node:fs';
import { csv, mapBatches, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, batchRows: 1000 })
  .from(csv(${JSON.stringify(join(dir, 'in.csv'))}))
  .pipe(mapBatches(async (batch) => {
    do await new Promise((resolve) => setTimeout(resolve, 50));
    while (!existsSync(${JSON.stringify(join(dir, 'release'))}));
    return batch;
  }))
  .to(toCsv(${JSON.stringify(join(dir, `${name}.csv`))}));
`,
    );
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(runsDir, { recursive: true, force: true });
});

const env = () => ({ ...process.env, SLUICE_RUNS_DIR: runsDir });

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const published = async () => (await readdir(runsDir)).filter((name) => name.endsWith('.json') && !name.startsWith('.'));

test('etl top shows two live runs in a terminal, each with its stages; their files go when they end', { skip: spawnSync('which', ['script']).status !== 0 ? 'util-linux script is not installed' : false }, async () => {
  const runs = ['slow-orders', 'slow-invoices'].map((name) => runCli(['run', join(dir, `${name}.ts`), '--quiet'], { env: env(), timeoutMs: 120_000 }));
  await until(async () => (await published()).length === 2, 'both runs to publish');
  assert.equal((await stat(runsDir)).mode & 0o777, 0o700, 'the folder is private');

  const once = await runCli(['top', '--once', '--json'], { env: env() });
  assert.equal(once.code, 0, once.stderr);
  const statuses = JSON.parse(once.stdout) as { pipeline: string; pid: number; stages: { name: string }[]; budget: number; rss: number }[];
  assert.deepEqual(statuses.map((status) => status.pipeline).sort(), ['slow-invoices', 'slow-orders']);
  for (const status of statuses) {
    assert.deepEqual(status.stages.map((stage) => stage.name), ['mapBatches', 'sink']);
    assert.ok(status.rss > 0 && status.budget > 0);
    assert.notEqual(status.pid, process.pid);
  }

  // The live view itself, in a pseudo-terminal, for a couple of refreshes.
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(etl)} top --interval 300`;
  const terminal = spawn('script', ['-qfec', command, '/dev/null'], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  terminal.stdout.setEncoding('utf8').on('data', (chunk) => (screen += chunk));
  await until(async () => /slow-orders/.test(screen) && /slow-invoices/.test(screen) && (screen.match(/\u001b\[2J/g) ?? []).length >= 2, 'two frames showing both runs', 20_000);
  terminal.kill('SIGTERM');
  assert.match(screen, /PIPELINE \/ STAGE +PID +ROWS\/S/);
  assert.match(screen, /\n {2}mapBatches /);

  await writeFile(join(dir, 'release'), '');
  const results = await Promise.all(runs);
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await published(), [], 'every run removed its file when it ended');
});

test('a file left by a process that is gone is not shown, and is removed', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(dead.stdout);
  await writeFile(join(runsDir, `${pid}-1.json`), JSON.stringify({ pipeline: 'ghost', pid, startedAt: new Date().toISOString(), elapsedMs: 0, rss: 1, heapUsed: 1, reserved: 0, budget: 1, source: { rows: 0, bytes: 0, rowsPerSecond: 0 }, stages: [], updatedAt: new Date().toISOString() }));
  const result = await runCli(['top', '--once'], { env: env() });
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stdout, /ghost/);
  assert.match(result.stdout, /\(no runs going on\)/);
  assert.deepEqual(await published(), []);
});

test('etl top refuses --json without --once, and arguments', async () => {
  const json = await runCli(['top', '--json'], { env: env() });
  assert.equal(json.code, 2);
  assert.match(json.stderr, /--json prints one frame: add --once/);
  const extra = await runCli(['top', 'orders'], { env: env() });
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /takes no arguments/);
});
