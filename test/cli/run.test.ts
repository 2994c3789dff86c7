import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.ts';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
  await writeFile(join(dir, 'in.csv'), 'id,name,qty\n1,a,3\n2,b,4\n3,c,x\n4,d,5\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pipelineFile(name: string, body: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, body);
  return file;
}

const header = `import { z } from 'zod';\nimport { csv, pipeline, toCsv } from 'sluice';\n`;

describe('etl run', () => {
  test('runs the quickstart and exits 0 with a summary whose peak RSS matches the kernel figure', async () => {
    const report = join(dir, 'quickstart.json');
    const result = await runCli(['run', 'examples/quickstart/pipeline.ts', '--report', report]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /quickstart: succeeded/);
    assert.match(result.stdout, /rows\s+read 500, written \d+, dropped \d+, rejected 0/);
    const summary = JSON.parse(await readFile(report, 'utf8'));
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.rows.read, summary.rows.written + summary.rows.dropped + summary.rows.rejected);
    assert.ok(summary.memory.peakRss >= summary.memory.baselineRss);
    assert.ok(summary.memory.peakHeapUsed > 0);
    assert.ok(summary.batches.savingRatio > 1, 'typed columns are smaller than JS objects');
  });

  test('summary peak RSS is within 10% of the OS-reported peak of the same process', async () => {
    const file = await pipelineFile(
      'rss.ts',
      `${header}import { readFileSync } from 'node:fs';
const Row = z.object({ id: z.number().int(), name: z.string(), qty: z.number() });
const base = pipeline({ name: 'rss', rejects: { path: ${JSON.stringify(join(dir, 'rss-rejects.ndjson'))} } })
  .from(csv(${JSON.stringify(join(dir, 'in.csv'))}, { schema: Row }))
  .tap(() => { globalThis.__hold = Buffer.alloc(64 * 1024 * 1024, 1); });
// The kernel's peak at exit bounds every figure the run could have read before it: the summary may read
// memory after the sink returns (writing the report), so a reading taken inside the sink is too early.
process.on('exit', () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  process.stderr.write('VmHWM ' + Number(/VmHWM:\\s+(\\d+)/.exec(status)[1]) * 1024 + '\\n');
});
export default base.to(toCsv(${JSON.stringify(join(dir, 'rss-out.csv'))}));
`,
    );
    const report = join(dir, 'rss.json');
    const result = await runCli(['run', file, '--report', report]);
    assert.equal(result.code, 0, result.stderr);
    const hwm = Number(/VmHWM (\d+)/.exec(result.stderr)![1]);
    const summary = JSON.parse(await readFile(report, 'utf8'));
    const ratio = summary.memory.peakRss / hwm;
    assert.ok(ratio > 0.9 && ratio <= 1.0001, `summary peak RSS ${summary.memory.peakRss} vs kernel VmHWM ${hwm}`);
  });

  test('a value that breaks the schema fails the run naming file, line, column, value and rule, and leaves no output', async () => {
    const out = join(dir, 'strict-out.csv');
    const file = await pipelineFile(
      'strict.ts',
      `${header}const Row = z.object({ id: z.number().int(), name: z.string(), qty: z.number().int().min(0).max(100) });
export default pipeline().from(csv(${JSON.stringify(join(dir, 'in.csv'))}, { schema: Row })).to(toCsv(${JSON.stringify(out)}));
`,
    );
    const result = await runCli(['run', file]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /SCHEMA_VIOLATION/);
    assert.match(result.stdout, /in\.csv:4/);
    assert.match(result.stdout, /"qty"/);
    assert.match(result.stdout, /"x"/);
    assert.match(result.stdout, /integer >= 0 <= 100/);
    assert.equal(existsSync(out), false);
    assert.deepEqual((await readdir(dir)).filter((name) => name.includes('strict-out')), []);
  });

  test('--dry-run prints the plan with dtypes and writes nothing', async () => {
    const out = join(dir, 'dry-out.csv');
    const file = await pipelineFile(
      'dry.ts',
      `${header}export default pipeline().from(csv(${JSON.stringify(join(dir, 'in.csv'))})).to(toCsv(${JSON.stringify(out)}));
`,
    );
    const result = await runCli(['run', file, '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /column\s+id\s+uint8/);
    assert.match(result.stdout, /column\s+name\s+string/);
    assert.match(result.stdout, /engine: /);
    assert.equal(existsSync(out), false);
  });

  test('--limit stops after that many rows', async () => {
    const out = join(dir, 'limit-out.csv');
    const file = await pipelineFile(
      'limit.ts',
      `${header}export default pipeline().from(csv(${JSON.stringify(join(dir, 'in.csv'))})).to(toCsv(${JSON.stringify(out)}));
`,
    );
    const result = await runCli(['run', file, '--limit', '2', '--quiet']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal((await readFile(out, 'utf8')).trim().split('\n').length, 3);
  });

  describe('a pipeline file that does not load gets a clear message and exit 2', () => {
    test('missing file', async () => {
      const result = await runCli(['run', join(dir, 'nope.ts')]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /\[PIPELINE_LOAD\] .*nope\.ts does not exist/);
    });

    test('syntax error names line and column', async () => {
      const file = await pipelineFile('syntax.ts', `${header}export default pipeline(\n  .from(\n`);
      const result = await runCli(['run', file]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /\[PIPELINE_LOAD\] .*syntax\.ts:\d+:\d+: syntax error/);
    });

    test('no default export', async () => {
      const file = await pipelineFile('nodefault.ts', `${header}export const p = 1;\n`);
      const result = await runCli(['run', file]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /\[PIPELINE_SHAPE\] .*has no default export/);
    });

    test('wrong shape says which part is wrong', async () => {
      const file = await pipelineFile('shape.ts', `export default { source: {}, stages: [], sink: null };\n`);
      const result = await runCli(['run', file]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /\[PIPELINE_SHAPE\] .*`source` must be a source.*`sink` must be a sink/);
    });

    test('an error thrown while loading', async () => {
      const file = await pipelineFile('throws.ts', `throw new Error('boom at load');\nexport default 1;\n`);
      const result = await runCli(['run', file]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /\[PIPELINE_LOAD\] .*failed while loading: boom at load/);
    });
  });

  test('bad flags are usage errors with exit 2', async () => {
    const unknown = await runCli(['run', 'examples/quickstart/pipeline.ts', '--nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /\[INVALID_OPTION\] etl run: unknown option `--nope`\. See etl run --help\./);
    const memory = await runCli(['run', 'examples/quickstart/pipeline.ts', '--memory', 'lots']);
    assert.equal(memory.code, 2);
    assert.match(memory.stderr, /Expected `--memory` to be a size such as 256MB/);
  });

  test('etl --help and etl run --help explain every flag', async () => {
    const main = await runCli(['--help']);
    assert.equal(main.code, 0);
    assert.match(main.stdout, /run\s+run a pipeline file/);
    const runHelp = await runCli(['run', '--help']);
    assert.equal(runHelp.code, 0);
    for (const flag of ['--memory', '--limit', '--dry-run', '--report', '--quiet']) assert.match(runHelp.stdout, new RegExp(flag));
  });
});
