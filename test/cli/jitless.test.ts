/**
 * Sluice on a Node that refuses to make code from strings (`--disallow-code-generation-from-strings`,
 * as a hardened host may set): the quickstart runs through the real CLI, its readers and writers on
 * their plain paths, and writes the same bytes as a normal run.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { repoRoot, runCli } from '../support/cli.ts';

const folders: string[] = [];
after(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

/** The quickstart, copied to a folder of its own (it writes beside itself), run by `etl run` with `env`. */
async function quickstart(env: NodeJS.ProcessEnv) {
  const folder = await mkdtemp(join(tmpdir(), 'sluice-jitless-'));
  folders.push(folder);
  for (const name of ['pipeline.ts', 'orders.csv']) await copyFile(join(repoRoot, 'examples/quickstart', name), join(folder, name));
  const report = join(folder, 'report.json');
  // SLUICE_JITLESS unset: whatever turns code generation off here is the host's refusal.
  const result = await runCli(['run', join(folder, 'pipeline.ts'), '--report', report], { env: { SLUICE_JITLESS: '', ...env } });
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(await readFile(report, 'utf8'));
  const out = join(folder, 'out');
  const files = Object.fromEntries(await Promise.all((await readdir(out)).sort().map(async (name) => [name, await readFile(join(out, name))] as const)));
  return { summary, files };
}

describe('etl run under node --disallow-code-generation-from-strings', () => {
  test('runs the quickstart with the same output as a normal run', async () => {
    const normal = await quickstart({});
    // NODE_OPTIONS reaches the process that runs the pipeline (etl runs it in its own process).
    const refused = await quickstart({ NODE_OPTIONS: [process.env.NODE_OPTIONS, '--disallow-code-generation-from-strings'].filter(Boolean).join(' ') });
    assert.match(normal.summary.source.engineDetail, /on the quick path/);
    assert.equal(refused.summary.source.engineDetail, 'no quick path: code generation is off', 'the child refused code generation');
    assert.deepEqual(refused.summary.rows, normal.summary.rows);
    assert.ok(normal.summary.rows.written > 0);
    assert.deepEqual(Object.keys(refused.files), Object.keys(normal.files));
    assert.ok(Object.keys(normal.files).includes('orders.csv'));
    for (const name of Object.keys(normal.files)) assert.ok(refused.files[name].equals(normal.files[name]), `${name}: the same bytes`);
  });
});
