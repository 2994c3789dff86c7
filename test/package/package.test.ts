/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepare`), the tarball installed
 * into a temporary project that has neither tsx nor TypeScript, and there: plain JavaScript importing
 * and requiring it, `etl run` of TypeScript and JavaScript pipeline files, `tsc` over a typed pipeline
 * with the strictest checks of declaration files, and `etl init`. npm's cache makes the installs quick.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
// The Node that runs the tests (22) first on the PATH, for npm, npx and etl's `#!/usr/bin/env node`.
const env = { ...process.env, PATH: [dirname(process.execPath), process.env.PATH].join(delimiter) };
const INPUT = 'id,name,qty\n1,ada,3\n2,bob,0\n3,cy,5\n';
const OUTPUT = 'id,name,qty\n1,ada,3\n3,cy,5\n';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(command: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<Result> {
  const result = await sh(command, args, cwd);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`);
  return result;
}

const install = (cwd: string, ...what: string[]) => ok('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...what], cwd);

let work: string;
let tarball: string;
let project: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'sluice-package-'));
  const packed = await ok('npm', ['pack', '--pack-destination', work, '--json'], repoRoot);
  tarball = join(work, JSON.parse(packed.stdout)[0].filename);
  project = join(work, 'project');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'smoke', private: true, type: 'module' }));
  await install(project, tarball);
  await writeFile(join(project, 'in.csv'), INPUT);
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

// Each under its own name: runs of one pipeline take turns (its lock), and these run at once.
const filterPipeline = (name: string, output: string) =>
  `import { csv, pipeline, toCsv } from 'sluice';\n` +
  `export default pipeline({ name: ${JSON.stringify(name)} }).from(csv('in.csv')).filter((row) => row.qty > 0).to(toCsv(${JSON.stringify(output)}));\n`;

// With tsx out of reach (it is Sluice's fallback compiler, hidden here), what loads must load through
// Node's own type stripping, or need no loader at all.
describe('the installed package, with no tsx and no TypeScript in the project', { concurrency: true }, () => {
  before(async () => {
    await rename(join(project, 'node_modules/tsx'), join(project, 'node_modules/.tsx-hidden'));
  });
  after(async () => {
    await rename(join(project, 'node_modules/.tsx-hidden'), join(project, 'node_modules/tsx'));
  });

  test('ships compiled JavaScript and declarations, not the TypeScript sources', async () => {
    const installed = join(project, 'node_modules/sluice');
    assert.ok(existsSync(join(installed, 'dist/index.js')));
    assert.ok(existsSync(join(installed, 'dist/index.d.ts')));
    assert.ok(existsSync(join(installed, 'dist/index.js.map')));
    assert.ok(!existsSync(join(installed, 'src')));
    assert.ok(!existsSync(join(project, 'node_modules/typescript')));
  });

  test('an .mjs file imports sluice and runs a CSV → CSV pipeline with node', async () => {
    await writeFile(
      join(project, 'run.mjs'),
      `import { csv, pipeline, run, toCsv } from 'sluice';\n` +
        `const summary = await run(pipeline({ name: 'mjs' }).from(csv('in.csv')).filter((row) => row.qty > 0).to(toCsv('out-mjs.csv')));\n` +
        `console.log(summary.status, summary.rows.written);\n`,
    );
    const result = await ok('node', ['run.mjs'], project);
    assert.equal(result.stdout.trim(), 'succeeded 2');
    assert.equal(result.stderr, '', 'no warning');
    assert.equal(await readFile(join(project, 'out-mjs.csv'), 'utf8'), OUTPUT);
  });

  test("a .cjs file gets the same module from require('sluice')", async () => {
    await writeFile(
      join(project, 'require.cjs'),
      `const sluice = require('sluice');\n` +
        `import('sluice').then((esm) => console.log(typeof sluice.csv, sluice.csv === esm.csv, sluice.SluiceError === esm.SluiceError));\n`,
    );
    const result = await ok('node', ['require.cjs'], project);
    assert.equal(result.stdout.trim(), 'function true true');
    assert.equal(result.stderr, '', 'no warning');
  });

  test('npx etl run pipeline.ts: Node strips the types', async () => {
    await writeFile(join(project, 'pipeline.ts'), `const output: string = 'out-ts.csv';\n${filterPipeline('ts', 'out-ts.csv')}`);
    const result = await ok('npx', ['etl', 'run', 'pipeline.ts', '--quiet'], project);
    assert.equal(result.stderr, '');
    assert.equal(await readFile(join(project, 'out-ts.csv'), 'utf8'), OUTPUT);
  });

  test('npx etl run pipeline.js', async () => {
    await writeFile(join(project, 'pipeline.js'), filterPipeline('js', 'out-js.csv'));
    const result = await ok('npx', ['etl', 'run', 'pipeline.js', '--quiet'], project);
    assert.equal(result.stderr, '');
    assert.equal(await readFile(join(project, 'out-js.csv'), 'utf8'), OUTPUT);
  });

  test('a .ts pipeline outside any package (no package.json, no node_modules) resolves sluice and zod from the installation', async () => {
    const elsewhere = join(work, 'elsewhere');
    await mkdir(elsewhere, { recursive: true });
    await writeFile(join(elsewhere, 'stray.ts'), `import { z } from 'zod';\nconst Row: z.ZodType = z.object({ id: z.number() });\n${filterPipeline('stray', 'out-stray.csv')}`);
    await ok('npx', ['etl', 'run', '../elsewhere/stray.ts', '--quiet'], project);
    assert.equal(await readFile(join(project, 'out-stray.csv'), 'utf8'), OUTPUT);
  });

  test('tsc --noEmit of a typed pipeline (strict, skipLibCheck false) finds 0 errors', async () => {
    // TypeScript installed beside the project, not in it, for this step only.
    const tools = join(work, 'tools');
    await mkdir(tools);
    await writeFile(join(tools, 'package.json'), JSON.stringify({ name: 'tools', private: true }));
    const repoTypescript = JSON.parse(await readFile(join(repoRoot, 'node_modules/typescript/package.json'), 'utf8')).version;
    await install(tools, `typescript@${repoTypescript}`);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, skipLibCheck: false, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2023', types: ['node'], noEmit: true },
        include: ['typed.ts'],
      }),
    );
    await writeFile(
      join(project, 'typed.ts'),
      `import { z } from 'zod';\n` +
        `import { csv, pipeline, run, toCsv, type RunSummary } from 'sluice';\n` +
        `const Row = z.object({ id: z.number().int(), name: z.string(), qty: z.number() });\n` +
        `const typed = pipeline({ name: 'typed' }).from(csv('in.csv', { schema: Row })).filter((row) => row.qty > 0).to(toCsv('out-typed.csv'));\n` +
        `export const summary: Promise<RunSummary> = run(typed);\n` +
        `// @ts-expect-error a row's name is a string, so the declarations carry the row type\n` +
        `pipeline({ name: 'wrong' }).from(csv('in.csv', { schema: Row })).filter((row) => row.name > 0);\n` +
        `export default typed;\n`,
    );
    const result = await sh('node', [join(tools, 'node_modules/typescript/bin/tsc'), '-p', '.'], project);
    assert.equal(result.code, 0, result.stdout);
    assert.equal(result.stdout, '');
  });
});

describe('the installed package, with its tsx', () => {
  test('npx etl run of a .ts file that stripping refuses (an enum) falls back to tsx', async () => {
    await writeFile(join(project, 'enum.ts'), `enum Output { File = 'out-enum.csv' }\n${filterPipeline('enum', 'out-enum.csv').replace('"out-enum.csv"', 'Output.File')}`);
    await ok('npx', ['etl', 'run', 'enum.ts', '--quiet'], project);
    assert.equal(await readFile(join(project, 'out-enum.csv'), 'utf8'), OUTPUT);
  });

  test('an enum in a .ts pipeline outside any package: tsx compiles it, and it still resolves sluice and zod', async () => {
    const elsewhere = join(work, 'elsewhere-enum');
    await mkdir(elsewhere, { recursive: true });
    await writeFile(join(elsewhere, 'stray.ts'), `import { z } from 'zod';\nenum Output { File = 'out-stray-enum.csv' }\nz.string().parse(Output.File);\n${filterPipeline('stray-enum', 'out-stray-enum.csv').replace('"out-stray-enum.csv"', 'Output.File')}`);
    await ok('npx', ['etl', 'run', '../elsewhere-enum/stray.ts', '--quiet'], project);
    assert.equal(await readFile(join(project, 'out-stray-enum.csv'), 'utf8'), OUTPUT);
  });

  test('npx etl run of a file neither can load exits 2 naming the file, line and column', async () => {
    await writeFile(join(project, 'broken.ts'), `import { csv } from 'sluice';\nconst = ;\n`);
    const result = await sh('npx', ['etl', 'run', 'broken.ts'], project);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^etl: \[PIPELINE_LOAD\] broken\.ts:2:6: syntax error: /m);
  });

  test('etl init scaffolds a project that installs, type-checks and runs; a folder not empty is refused unless --force', async () => {
    const created = await ok('npx', ['etl', 'init', 'my-etl'], project);
    assert.match(created.stdout, /npx etl run pipelines\/example\.ts/);
    const folder = join(project, 'my-etl');
    const refused = await sh('npx', ['etl', 'init', 'my-etl'], project);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /\[INVALID_OPTION\] my-etl is not empty .*--force/);
    await ok('npx', ['etl', 'init', 'my-etl', '--force'], project);
    const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8'));
    assert.equal(manifest.name, 'my-etl');
    assert.ok(manifest.dependencies.sluice && manifest.dependencies.zod);
    // The tarball stands in for the registry's sluice; the rest installs as the manifest says.
    await install(folder, tarball);
    const ran = await ok('npx', ['etl', 'run', 'pipelines/example.ts'], folder);
    assert.match(ran.stdout, /example: succeeded/);
    const output = (await readFile(join(folder, 'out/orders.csv'), 'utf8')).trim().split('\n');
    assert.deepEqual(output.map((line) => line.split(',')[0]), ['order_id', '1', '3', '4']);
    await ok('npm', ['run', 'check'], folder);
  });
});
