import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
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
