// Importing this module lets Node load pipeline files written in TypeScript, with no build step: tsx
// compiles them (and Sluice's own sources) on the fly. `etl` imports it before anything else, and the
// scheduler starts each run's process with it (`node --import <this file>`). Plain JavaScript, because
// it must run before TypeScript can be loaded.
import module from 'node:module';
import { register } from 'tsx/esm/api';

register();

// A pipeline file may live anywhere (a scratch folder, another repository). When a bare import such
// as 'sluice' or 'zod' cannot be found from the pipeline's own folder, it is resolved from Sluice's
// installation instead, so the file works without a package.json or node_modules of its own.
const fallbackParent = new URL('../../package.json', import.meta.url).href;
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
