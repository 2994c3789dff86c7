#!/usr/bin/env node
// The `etl` command. Pipeline files are TypeScript loaded with no build step (see
// src/ops/register-typescript.js).

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `etl: Sluice needs Node.js 22 or later; this is ${process.version}.\n` +
      'Run it through npm, which puts the project\'s Node 22 first on the PATH: `npx etl …` or an npm script.\n',
  );
  process.exit(2);
}

await import('../src/ops/register-typescript.js');

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
