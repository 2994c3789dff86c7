import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.ts';
import type { CommandIO } from '../../src/cli/args.ts';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/fakes.ts';

const dir = await tempDir('sluice-cli-options-');
await writeFile(join(dir, 'in.csv'), 'id;name\n1;a\n2;b\n');
await writeFile(join(dir, 'in.tsv'), 'id\tscore\n1\t0.5\n2\t1.5\n');

/** `etl …` in this process: its exit code and what it wrote. */
async function etl(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text: string) => ((stdout += text), true) },
    stderr: { write: (text: string) => ((stderr += text), true) },
    signal: new AbortController().signal,
  } as unknown as CommandIO;
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** Each command line exits with the usage code and prints exactly its message. */
async function refusedWithUsage(cases: readonly [string[], string][]): Promise<void> {
  for (const [argv, message] of cases) {
    const result = await etl(...argv);
    assert.equal(result.code, EXIT.usage, argv.join(' '));
    assert.equal(result.stderr, `etl: [INVALID_OPTION] ${message}\n`);
  }
}

test('etl run of a pipeline file with csv(p, { delimeter }) exits with the usage code and suggests `delimiter`', async () => {
  const file = join(dir, 'misspelled.ts');
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';\n` +
      `export default pipeline({ name: 'misspelled' }).from(csv(${JSON.stringify(join(dir, 'in.csv'))}, { delimeter: ';' })).to(toCsv(${JSON.stringify(join(dir, 'out.csv'))}));\n`,
  );
  const result = await runCli(['run', file, '--quiet']);
  assert.equal(result.code, EXIT.usage, result.stderr);
  assert.equal(result.stderr, `etl: [INVALID_OPTION] ${file}: csv(): unknown option \`delimeter\`. Did you mean \`delimiter\`?\n`);
});

test('an unknown flag of each command gets the nearest known one, with the usage code', async () => {
  const cases: [string[], string][] = [
    [['run', 'p.ts', '--limt', '5'], 'etl run: unknown option `--limt`. Did you mean `--limit`? See etl run --help.'],
    [['run', 'p.ts', '--dryrun'], 'etl run: unknown option `--dryrun`. Did you mean `--dry-run`? See etl run --help.'],
    [['profile', 'in.csv', '--delimitr', ';'], 'etl profile: unknown option `--delimitr`. Did you mean `--delimiter`? See etl profile --help.'],
    [['runs', '--jsno'], 'etl runs: unknown option `--jsno`. Did you mean `--json`? See etl runs --help.'],
    [['schedule', 'pipelines', '--lst'], 'etl schedule: unknown option `--lst`. Did you mean `--list`? See etl schedule --help.'],
    [['run', 'p.ts', '--nope'], 'etl run: unknown option `--nope`. See etl run --help.'],
  ];
  await refusedWithUsage(cases);
});

test('flag values are checked before anything is loaded, naming the flag', async () => {
  const cases: [string[], string][] = [
    [['run', 'missing.ts', '--limit', '0'], 'Expected `--limit` to be a whole number from 1 and up; got "0".'],
    [['run', 'missing.ts', '--memory', 'lots'], 'Expected `--memory` to be a size such as 256MB, 1GB or 512KB (a number of bytes above 0); got "lots".'],
    [['run', 'missing.ts', '--threads', '0'], 'Expected `--threads` to be a whole number from 1 and up; got "0".'],
    [['run', 'missing.ts', '--run-timeout', '0'], 'Expected `--run-timeout` to be a number of milliseconds from 1 and up; got "0".'],
    [['run', 'missing.ts', '--temp-dir', join(dir, 'no-such-folder')], `Expected \`--temp-dir\` to be an existing folder; got "${join(dir, 'no-such-folder')}".`],
    [['runs', '--limit', 'many'], 'Expected `--limit` to be a whole number from 1 and up; got "many".'],
    [['profile', join(dir, 'in.csv'), '--delimiter', ';;'], "Expected `--delimiter` to be one character such as ',' or ';', or 'tab'; got \";;\"."],
    [['profile', join(dir, 'in.csv'), '--quote', "''"], 'Expected `--quote` to be one character; got "\'\'".'],
    [['profile', join(dir, 'in.csv'), '--sample', '1e400'], 'Expected `--sample` to be a whole number from 1 and up; got "1e400".'],
    [['run', 'missing.ts', '--limit'], "etl run: Option '--limit <value>' argument missing. See etl run --help."],
  ];
  await refusedWithUsage(cases);
});

test('etl profile --delimiter takes the spellings csv() takes: tab, \\t, semicolon', async () => {
  for (const [file, delimiter] of [['in.tsv', 'tab'], ['in.tsv', '\\t'], ['in.csv', 'semicolon'], ['in.csv', ';']]) {
    const result = await etl('profile', join(dir, file), '--delimiter', delimiter, '--json');
    assert.equal(result.code, EXIT.ok, result.stderr);
    assert.equal(JSON.parse(result.stdout).columns.length, 2, `${file} ${delimiter}`);
  }
});
