/** The options of distributed runs, checked at the door: in the pipeline file, and on the command line. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pipeline } from '../../src/index.ts';
import { partFile } from '../../src/ops/distributed/partition-run.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/fakes.ts';

test('a misspelled distributed option is refused with the nearest name; a heartbeat under pg-boss minimum with what it must be', () => {
  assert.throws(() => pipeline({ distributed: { heartbeatSecond: 30 } as never }), { code: 'INVALID_OPTION', message: /unknown option `distributed.heartbeatSecond`\. Did you mean `distributed.heartbeatSeconds`\?/ });
  assert.throws(() => pipeline({ distributed: { heartbeatSeconds: 5 } }), { code: 'INVALID_OPTION', message: /heartbeatSeconds.*from 10 and up/ });
  assert.throws(() => pipeline({ distributed: { queueSchema: 'Bad Name' } }), { code: 'INVALID_OPTION', message: /queueSchema/ });
});

test('--detach and --connection without --distributed are refused (etl run, etl schedule), naming the flag', async () => {
  const dir = await tempDir();
  const file = join(dir, 'plain.ts');
  await writeFile(file, `import { csv, pipeline, toCsv } from 'sluice';\nexport default pipeline({}).from(csv('in.csv')).to(toCsv('out.csv'));\n`);
  const detached = await runCli(['run', file, '--detach']);
  assert.equal(detached.code, 2, detached.stderr);
  assert.match(detached.stderr, /--detach goes with --distributed/);
  const limited = await runCli(['run', file, '--distributed', '--limit', '10']);
  assert.equal(limited.code, 2, limited.stderr);
  assert.match(limited.stderr, /--limit does not go with --distributed/);
  const scheduled = await runCli(['schedule', file, '--connection', 'postgres://127.0.0.1/x']);
  assert.equal(scheduled.code, 2, scheduled.stderr);
  assert.match(scheduled.stderr, /etl schedule: --connection goes with --distributed/);
});

test('each partition writes its rejects to a file of its own', () => {
  assert.equal(partFile('out/rejects.ndjson', 3), 'out/rejects.part-3.ndjson');
  assert.equal(partFile('rejects', 0), 'rejects.part-0');
});
