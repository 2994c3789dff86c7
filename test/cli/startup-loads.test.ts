/**
 * What `etl run` loads before and while it runs a CSV → CSV pipeline: the parts it does not use (the
 * Parquet and Arrow readers, the scheduler, the worker, pg-boss, the terminal view, croner) are loaded
 * on first use, not with every start. A resolve hook, put in front through NODE_OPTIONS, lists every
 * module imported (resolve, because register-typescript.js answers the load of .ts files itself).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { runCli } from '../support/cli.ts';
import { tempDir } from '../support/fakes.ts';

test('etl run of a CSV → CSV pipeline loads none of the readers, commands and packages it does not use', async () => {
  const dir = await tempDir();
  const loaded = join(dir, 'loaded.txt');
  const hook = join(dir, 'log-loads.mjs');
  await writeFile(
    hook,
    `import module from 'node:module';
import { writeFileSync } from 'node:fs';
const urls = [];
module.registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); urls.push(resolved.url); return resolved; } });
process.on('exit', () => writeFileSync(${JSON.stringify(loaded)}, urls.join('\\n')));
`,
  );
  await writeFile(join(dir, 'in.csv'), 'id,qty\n1,3\n2,0\n');
  const file = join(dir, 'pipeline.ts');
  await writeFile(
    file,
    `import { csv, pipeline, toCsv } from 'sluice';\nconst input: string = ${JSON.stringify(join(dir, 'in.csv'))};\n` +
      `export default pipeline({ name: 'loads' }).from(csv(input)).filter((row) => Number(row.qty) > 0).to(toCsv(${JSON.stringify(join(dir, 'out.csv'))}));\n`,
  );
  const result = await runCli(['run', file, '--quiet'], { env: { NODE_OPTIONS: `--import ${pathToFileURL(hook).href}` } });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(await readFile(join(dir, 'out.csv'), 'utf8'), 'id,qty\n1,3\n');
  const urls = (await readFile(loaded, 'utf8')).split('\n');
  assert.ok(urls.some((url) => url.endsWith('/pipeline.ts')), 'the hook saw the pipeline file load');
  assert.ok(urls.some((url) => url.includes('/connectors/csv/')), 'the hook saw the CSV connector load');
  const unused = [
    /\/node_modules\/(hyparquet|apache-arrow|pg-boss|snappyjs|croner|@opentelemetry)\//,
    /\/connectors\/parquet\/source\.[jt]s$/,
    /\/connectors\/arrow\/read-file\.[jt]s$/,
    /\/cli\/(schedule|worker|top|runs|profile|init)-command\.[jt]s$/,
  ];
  assert.deepEqual(
    urls.filter((url) => unused.some((pattern) => pattern.test(url))),
    [],
  );
});
