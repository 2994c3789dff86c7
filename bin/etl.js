#!/usr/bin/env node
// The `etl` command. It runs one of two trees of the same code:
// - dist/, compiled JavaScript: the installed package (which ships dist/ and bin/, no src/);
// - src/, the TypeScript sources, their types stripped by Node: a checkout of the repository, where the
//   tests run `etl` against the code as it is, with no build step (a dist/ left by an earlier build may
//   be stale). SLUICE_FROM=dist runs the build from a checkout (`npm run build` first).
// Either way, pipeline files may be TypeScript (see src/ops/register-typescript.js).
import { existsSync } from 'node:fs';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `etl: Sluice needs Node.js 22 or later; this is ${process.version}.\n` +
      'Run it through npm, which puts the project\'s Node 22 first on the PATH: `npx etl …` or an npm script.\n',
  );
  process.exit(2);
}

const fromSources = process.env.SLUICE_FROM !== 'dist' && existsSync(new URL('../src/cli/main.ts', import.meta.url));
const tree = fromSources ? '../src/' : '../dist/';
if (!fromSources && !existsSync(new URL(`${tree}cli/main.js`, import.meta.url))) {
  process.stderr.write('etl: the compiled code (dist/) is missing: run `npm run build` in the Sluice folder.\n');
  process.exit(2);
}

await import(`${tree}ops/register-typescript.js`);
const { main } = await import(fromSources ? `${tree}cli/main.ts` : `${tree}cli/main.js`);
process.exitCode = await main(process.argv.slice(2));
