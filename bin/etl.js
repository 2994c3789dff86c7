#!/usr/bin/env node
// The `etl` command. Pipeline files are TypeScript loaded with no build step: tsx compiles them (and
// Sluice's own sources) on the fly.
import module from 'node:module';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `etl: Sluice needs Node.js 22 or later; this is ${process.version}.\n` +
      'Run it through npm, which puts the project\'s Node 22 first on the PATH: `npx etl …` or an npm script.\n',
  );
  process.exit(2);
}

const { register } = await import('tsx/esm/api');
register();

// A pipeline file may live anywhere (a scratch folder, another repository). When a bare import such
// as 'sluice' or 'zod' cannot be found from the pipeline's own folder, it is resolved from Sluice's
// installation instead, so the file works without a package.json or node_modules of its own.
const fallbackParent = new URL('../package.json', import.meta.url).href;
module.registerHooks({
  resolve(specifier, context, nextResolve) {
    let resolved;
    try {
      resolved = nextResolve(specifier, context);
    } catch (error) {
      const bare = !/^(\.|\/|[a-z]+:)/i.test(specifier);
      const notFound = error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'MODULE_NOT_FOUND';
      if (!bare || !notFound || context.parentURL === fallbackParent) throw error;
      resolved = nextResolve(specifier, { ...context, parentURL: fallbackParent });
    }
    // Pipeline files are ES modules, wherever they are: outside a package that says "type": "module"
    // a .ts file would otherwise load as CommonJS and could not import Sluice's ES modules.
    if (/\.m?ts$/.test(resolved.url) && !resolved.url.includes('/node_modules/') && resolved.format !== 'module') {
      return { ...resolved, format: 'module' };
    }
    return resolved;
  },
});

const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
