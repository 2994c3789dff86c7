import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { interruptOnceWritten, runCli } from '../support/cli.ts';

let dir: string;
const ORDERS = 150_000;
const CUSTOMERS = 120_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-join-cli-'));
  const orders = ['order_id,customer_id,quantity'];
  for (let i = 0; i < ORDERS; i++) orders.push(`${i},${(i * 7919) % CUSTOMERS},${1 + (i % 9)}`);
  await writeFile(join(dir, 'orders.csv'), `${orders.join('\n')}\n`);
  const customers = ['id,name,code'];
  for (let i = 0; i < CUSTOMERS; i++) customers.push(`${i},customer number ${i} of the join test,C${i}`);
  await writeFile(join(dir, 'customers.csv'), `${customers.join('\n')}\n`);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pipelineFile(name: string, on: string, slowMs: number): Promise<string> {
  const file = join(dir, `${name}.ts`);
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';
export default pipeline({ name: ${JSON.stringify(name)}, batchRows: 2000 })
  .from(csv(${JSON.stringify(join(dir, 'orders.csv'))}))
  .tap(async () => { await new Promise((resolve) => setTimeout(resolve, ${slowMs})); }, { reads: [] })
  .join(csv(${JSON.stringify(join(dir, 'customers.csv'))}), { on: [${on}], select: ['name'] })
  .to(toCsv(${JSON.stringify(join(dir, 'out', `${name}.csv`))}));
`,
  );
  return file;
}

test('etl run --dry-run refuses join keys of different kinds before reading a row, naming both columns and their dtypes', async () => {
  const file = await pipelineFile('mismatched', "['quantity', 'code']", 0);
  const dry = await runCli(['run', file, '--dry-run'], { timeoutMs: 300_000 });
  assert.notEqual(dry.code, 0, dry.stdout);
  assert.match(dry.stderr, /PIPELINE_SHAPE/);
  assert.match(dry.stderr, /join: key "quantity" is u?int\d+ but "code" of .*customers\.csv is (string|dictionary); keys must be of one kind/);
  assert.doesNotMatch(dry.stdout, /^sink /m, 'no plan printed as if it would run');
});

test('SIGINT while the join is spilling: exit 130, and no spill file or folder is left in --temp-dir', async () => {
  const scratch = join(dir, 'scratch-sigint');
  await mkdir(scratch);
  const file = await pipelineFile('interrupted', "['customer_id', 'id']", 40);
  const { result, written } = await interruptOnceWritten(['run', file, '--memory', '4MB', '--temp-dir', scratch], scratch, '.spill');
  assert.ok(written, 'a spill file was written before the interrupt');
  assert.equal(result.code, 130, result.stderr + result.stdout);
  assert.match(result.stdout, /interrupted: FAILED/);
  assert.deepEqual(await readdir(scratch), [], 'no temporary file or folder left behind');
});
