import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-state-errors-');
await writeFile(join(dir, 'in.csv'), 'id,name\n1,a\n2,b\n');

async function pipelineFile(file: string, options: string): Promise<string> {
  const path = join(dir, file);
  await writeFile(
    path,
    `import { csv, pipeline, toCsv } from 'sluice';\n` +
      `export default pipeline({ ${options} }).from(csv(${JSON.stringify(join(dir, 'in.csv'))})).to(toCsv(${JSON.stringify(join(dir, `${file}.out.csv`))}));\n`,
  );
  return path;
}

/** A 64 KB tmpfs filled to the last block (needs root to mount; the tests using it skip elsewhere). */
async function fullDisk(): Promise<string | undefined> {
  const mountPoint = join(dir, 'full-disk');
  await mkdir(mountPoint, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint]).status !== 0) return undefined;
  after(() => {
    spawnSync('umount', ['-l', mountPoint]);
  });
  spawnSync('dd', ['if=/dev/zero', `of=${join(mountPoint, 'filler')}`, 'bs=4k', 'count=64']);
  return mountPoint;
}

test('a full state folder fails with STATE_WRITE naming the lock file and what to do, no stack trace, and leaves no empty lock file', async (t) => {
  const disk = await fullDisk();
  if (disk === undefined) return t.skip('cannot mount a small tmpfs here (needs root)');
  const folder = join(disk, 'state');
  const file = await pipelineFile('full.ts', `name: 'full', state: { folder: ${JSON.stringify(folder)} }`);
  const result = await runCli(['run', file]);
  assert.equal(result.code, 1, result.stderr);
  const lockFile = join(folder, 'locks', 'full.lock');
  assert.match(result.stderr, /^etl: \[STATE_WRITE\] Cannot (create|write) the lock file /);
  assert.ok(result.stderr.includes(lockFile), result.stderr);
  assert.match(result.stderr, /the disk \(or quota\) holding it is full \(ENOSPC\); free some space, or point the pipeline's state elsewhere/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(await readdir(join(folder, 'locks')).catch(() => []), [], 'no lock file left behind');
  // The next run is not blocked by debris: it fails the same way, not as "already running" (exit 3).
  assert.equal((await runCli(['run', file])).code, 1);
});

test('a pipeline name too long for a file name is refused at load with PIPELINE_NAME (exit 2), no stack trace, nothing created', async () => {
  const folder = join(dir, 'long-state');
  const file = await pipelineFile('long.ts', `name: ${JSON.stringify('n'.repeat(300))}, state: { folder: ${JSON.stringify(folder)} }`);
  const result = await runCli(['run', file]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^etl: \[PIPELINE_NAME\] .*long\.ts: the pipeline name "n{40}…" \(300 characters\) is too long: .* takes 300 bytes, over the 200 allowed .*Give the pipeline a shorter `name`\.\n$/);
  assert.doesNotMatch(result.stderr, /ENAMETOOLONG|\n\s+at /);
  assert.deepEqual(await readdir(folder).catch(() => []), []);
  // Within the limit (a `/` takes three bytes as a file name) a long name runs.
  const fits = await pipelineFile('fits.ts', `name: ${JSON.stringify(`a/${'n'.repeat(190)}`)}, state: { folder: ${JSON.stringify(folder)} }`);
  const ran = await runCli(['run', fits, '--quiet']);
  assert.equal(ran.code, 0, ran.stderr);
});
