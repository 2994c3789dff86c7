import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../support/cli.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-interrupt-'));
  const lines = ['id,value'];
  for (let i = 0; i < 20_000; i++) lines.push(`${i},${i * 3}`);
  await writeFile(join(dir, 'in.csv'), `${lines.join('\n')}\n`);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('SIGINT stops a run, exits 130, and leaves neither the output nor a temporary file', async () => {
  const out = join(dir, 'out', 'result.csv');
  const file = join(dir, 'slow.ts');
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: 'slow', batchRows: 100 })
  .from(csv(${JSON.stringify(join(dir, 'in.csv'))}))
  .tap(async () => { process.stderr.write('batch\\n'); await new Promise((resolve) => setTimeout(resolve, 50)); })
  .to(toCsv(${JSON.stringify(out)}));
`,
  );
  let pid = 0;
  const running = runCli(['run', file], { onSpawn: (childPid) => (pid = childPid) });
  // Wait until batches flow (the output's temporary file exists by then), then interrupt.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const names = await readdir(join(dir, 'out')).catch(() => []);
    if (names.some((name) => name.endsWith('.tmp'))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(pid, 'SIGINT');
  const result = await running;
  assert.equal(result.code, 130, result.stderr + result.stdout);
  assert.match(result.stderr, /SIGINT received, stopping/);
  assert.match(result.stdout, /slow: FAILED/);
  assert.deepEqual(await readdir(join(dir, 'out')), [], 'no output and no temporary file left behind');
});
