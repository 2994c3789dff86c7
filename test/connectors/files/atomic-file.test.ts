import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { csv, pipeline, run, toCsv } from '../../../src/index.ts';
import { AtomicFile } from '../../../src/connectors/files/atomic-file.ts';
import { tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-atomic-');

test('temporary names are unpredictable: 96 random bits after the pid, different for every open', async () => {
  const path = join(dir, 'out.csv');
  const names = new Set<string>();
  for (let k = 0; k < 20; k++) {
    const file = await AtomicFile.open(path);
    assert.equal(dirname(file.temporaryPath), dir, 'in the output folder, so the rename stays on one file system');
    assert.match(basename(file.temporaryPath), new RegExp(`^\\.out\\.csv\\.${process.pid}\\.[0-9a-f]{24}\\.tmp$`));
    names.add(file.temporaryPath);
    await file.discard();
  }
  assert.equal(names.size, 20);
});

test('a symlink planted at the output path is replaced by the output, and its target is left alone', async () => {
  const victim = join(dir, 'victim.txt');
  await writeFile(victim, 'precious\n');
  const path = join(dir, 'linked.csv');
  await symlink(victim, path);
  const file = await AtomicFile.open(path);
  await file.write(Buffer.from('a,b\n1,2\n'));
  await file.commit();
  assert.equal(await readFile(victim, 'utf8'), 'precious\n');
  assert.equal((await lstat(path)).isSymbolicLink(), false);
  assert.equal(await readFile(path, 'utf8'), 'a,b\n1,2\n');
});

test('commit leaves the output and no temporary file; discard leaves neither', async () => {
  const kept = join(dir, 'kept.csv');
  const file = await AtomicFile.open(kept);
  await file.write(Buffer.from('x\n'));
  await file.commit();
  const dropped = join(dir, 'dropped.csv');
  const other = await AtomicFile.open(dropped);
  await other.write(Buffer.from('y\n'));
  await other.discard();
  const names = await readdir(dir);
  assert.ok(names.includes('kept.csv'));
  assert.ok(!names.includes('dropped.csv'));
  assert.deepEqual(names.filter((name) => name.startsWith('.kept') || name.startsWith('.dropped')), []);
});

// What reaches the disk cannot be seen from the process, but the system calls can: under strace the
// file is fsynced before its rename and the folder after it.
const strace = ['/usr/bin/strace', '/bin/strace'].find((candidate) => existsSync(candidate));
test('commit fsyncs the file before the rename and the folder after it (seen through strace)', { skip: strace === undefined ? 'strace is not installed' : false }, async () => {
  const script = join(dir, 'commit.mts');
  const output = join(dir, 'synced.csv');
  const module = new URL('../../../src/connectors/files/atomic-file.ts', import.meta.url).href;
  await writeFile(script, `import { AtomicFile } from ${JSON.stringify(module)};\nconst file = await AtomicFile.open(${JSON.stringify(output)});\nawait file.write(Buffer.from('a\\n'));\nawait file.commit();\n`);
  const log = join(dir, 'strace.log');
  const result = spawnSync(strace!, ['-f', '-y', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', log, process.execPath, '--import', 'tsx', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const calls = (await readFile(log, 'utf8')).split('\n').filter((line) => /fsync|rename/.test(line) && !line.includes('resumed>'));
  const renameAt = calls.findIndex((line) => line.includes('rename') && line.includes('synced.csv'));
  assert.ok(renameAt > 0, calls.join('\n'));
  assert.match(calls.slice(0, renameAt).join('\n'), /fsync\(\d+<[^>]*\.synced\.csv\.\d+\.[0-9a-f]+\.tmp>\)/);
  assert.match(calls.slice(renameAt + 1).join('\n'), new RegExp(`fsync\\(\\d+<${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>\\)`));
});

// A real full disk: a 64 KB tmpfs (needs root to mount; skipped elsewhere).
async function smallDisk(options = 'size=64k', name = 'small-disk'): Promise<string | undefined> {
  const mountPoint = join(dir, name);
  await mkdir(mountPoint, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint], { encoding: 'utf8' });
  if (mounted.status !== 0) return undefined;
  after(() => {
    spawnSync('umount', ['-l', mountPoint]);
  });
  return mountPoint;
}

test('a full disk fails the run with OUTPUT_DISK_FULL naming the output, and leaves neither it nor a temporary file', async (t) => {
  const disk = await smallDisk();
  if (disk === undefined) return t.skip('cannot mount a small tmpfs here (needs root)');
  const input = join(dir, 'big.csv');
  await writeFile(input, `n,text\n${Array.from({ length: 20_000 }, (_, k) => `${k},${'x'.repeat(20)}`).join('\n')}\n`);
  const output = join(disk, 'out.csv');
  const summary = await run(pipeline().from(csv(input)).to(toCsv(output)));
  assert.equal(summary.status, 'failed');
  assert.equal(summary.error?.code, 'OUTPUT_DISK_FULL');
  assert.equal(summary.error?.file, output);
  assert.match(summary.error?.message ?? '', /the disk \(or quota\) holding it is full \(ENOSPC\)\. Free some space or write the output elsewhere/);
  assert.deepEqual(await readdir(disk), []);
});

test('an output on a read-only file system fails with OUTPUT_WRITE saying so, not ENOENT', async (t) => {
  const disk = await smallDisk('ro,size=64k', 'read-only-disk');
  if (disk === undefined) return t.skip('cannot mount a small tmpfs here (needs root)');
  const input = join(dir, 'small.csv');
  await writeFile(input, 'n\n1\n');
  const output = join(disk, 'sub', 'out.csv');
  const summary = await run(pipeline().from(csv(input)).to(toCsv(output)));
  assert.equal(summary.error?.code, 'OUTPUT_WRITE');
  assert.match(summary.error?.message ?? '', /^Cannot create the folder of .*sub\/out\.csv: the file system is read-only \(EROFS/);
});
