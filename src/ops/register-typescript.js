// Imported before anything else by `etl` (bin/etl.js) and by each scheduled run's process
// (`node --import <this file>`, see child-process-executor.ts): it lets Node load pipeline files
// written in TypeScript, wherever they are. Plain JavaScript, because it must run before TypeScript
// can be loaded.
//
// It runs from one of two trees, and the tree decides how TypeScript is loaded:
// - dist/ (the installed package, compiled JavaScript): Node strips the types of a pipeline file itself
//   (Node >= 22.6; on by default from 22.18), which costs next to nothing at startup. A file with syntax
//   stripping refuses (an enum, a parameter property, a namespace) is handed to tsx by
//   import-pipeline.ts, only then.
// - src/ (a checkout of the repository, TypeScript sources): Sluice's own sources need a compiler
//   (they use parameter properties), so tsx compiles them and the pipeline files, on the fly.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// V8 keeps the code it compiles on disk, so that later starts of etl and of scheduled runs skip
// compiling Sluice again: in node_modules/.cache of Sluice's own folder, not the OS's temporary folder
// (shared with every user of the machine, so open to planted files). Best effort: where that folder
// cannot be written, there is just no cache.
module.enableCompileCache?.(fileURLToPath(new URL('../../node_modules/.cache/sluice-compile', import.meta.url)));

const fromSources = existsSync(new URL('./load.ts', import.meta.url));
if (fromSources) {
  const { register } = await import('tsx/esm/api');
  register();
}

// A pipeline file may live anywhere (a scratch folder, another repository). When a bare import such
// as 'sluice' or 'zod' cannot be found from the pipeline's own folder, it is resolved from Sluice's
// installation instead, so the file works without a package.json or node_modules of its own.
const fallbackParent = new URL('../../package.json', import.meta.url).href;
// In a checkout, 'sluice' means the sources, not a build that may be missing or stale (package.json
// exports the sources under this condition; tsconfig.json type-checks with it).
const SOURCE_CONDITION = 'sluice-source';

module.registerHooks({
  resolve(specifier, context, nextResolve) {
    if (fromSources && !context.conditions.includes(SOURCE_CONDITION)) {
      context = { ...context, conditions: [...context.conditions, SOURCE_CONDITION] };
    }
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
    // a .ts file would otherwise load as CommonJS and could not import Sluice's ES modules. Node's
    // loader and tsx both take the format from here ('module-typescript': to be stripped; tsx reads it
    // as 'module' and compiles).
    if (isPipelineTypeScript(resolved.url) && resolved.format !== 'module' && resolved.format !== 'module-typescript') {
      return { ...resolved, format: fromSources ? 'module' : 'module-typescript' };
    }
    return resolved;
  },
});

function isPipelineTypeScript(url) {
  return /\.m?ts$/.test(new URL(url).pathname) && !url.includes('/node_modules/');
}
