/**
 * A password written raw in a URL (not percent-encoded, holding `@`, `:`, `/`, `%` and `#`) appears in
 * none of `etl run`'s outputs: the summary on stdout, stderr, the `--report` JSON and `--dry-run`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../support/cli.ts';

// The last one pg accepts (the run connects and writes), the others it cannot parse (the run fails).
const RAW_PASSWORDS = ['pA@:/%#w0rd', 'pA@ss:w/rd', 'q#r?s@t', 'se@cr@et'];
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-redact-'));
  await writeFile(join(dir, 'in.csv'), 'id,name\n1,a\n2,b\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every piece of the password long enough to mean something: a leak of its tail counts too. */
function assertNoPassword(text: string, password: string, where: string): void {
  const pieces = [password, ...password.split('@').filter((piece) => piece.length >= 3), encodeURIComponent(password)];
  for (const piece of pieces) assert.ok(!text.includes(piece), `${where} shows ${JSON.stringify(piece)} of the password: ${text}`);
}

for (const password of RAW_PASSWORDS) {
  test(`a raw password ${JSON.stringify(password)} in the URL is in no output of etl run, --report or --dry-run`, async () => {
    const url = `postgres://postgres:${password}@127.0.0.1:5432/test`;
    const file = join(dir, `p${RAW_PASSWORDS.indexOf(password)}.ts`);
    await writeFile(
      file,
      `import { csv, pipeline, toPostgres } from 'sluice';\n` +
        `export default pipeline({ name: 'leak' }).from(csv(${JSON.stringify(join(dir, 'in.csv'))})).to(toPostgres({ table: 'sluice_redact_leak', createTable: true, connection: ${JSON.stringify(url)} }));\n`,
    );
    const report = join(dir, `report-${RAW_PASSWORDS.indexOf(password)}.json`);
    const ran = await runCli(['run', file, '--report', report]);
    assertNoPassword(ran.stdout, password, 'the summary');
    assertNoPassword(ran.stderr, password, 'stderr');
    assertNoPassword(await readFile(report, 'utf8'), password, 'the --report JSON');
    const dry = await runCli(['run', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /postgres:\/\/postgres:\*\*\*@/);
    assertNoPassword(dry.stdout, password, '--dry-run');
    assertNoPassword(dry.stderr, password, '--dry-run stderr');
  });
}
