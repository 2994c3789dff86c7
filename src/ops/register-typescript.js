// Imported before anything else by `etl` (bin/etl.js) and by each scheduled run's process
// (`node --import <this file>`, see child-process-executor.ts): it lets Node load pipeline files
// written in TypeScript, wherever they are. Plain JavaScript, because it must run before TypeScript
// can be loaded.
//
// Node strips the types of a TypeScript file itself (Node >= 22.6; on by default from 22.18), which
// costs next to nothing at startup. That serves a user's pipeline file and, in a checkout of the
// repository, Sluice's own sources too: they are written as erasable TypeScript (tsconfig.json sets
// erasableSyntaxOnly), so src/ runs as it is, with no compiler and no build. A pipeline file with
// syntax stripping refuses (an enum, a parameter property, a namespace) is handed to tsx by
// runtime/import-pipeline.ts, only then.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// V8 keeps the code it compiles on disk, so that later starts of etl and of scheduled runs skip
// compiling Sluice again: in node_modules/.cache of Sluice's own folder, not the OS's temporary folder
// (shared with every user of the machine, so open to planted files). Best effort: where that folder
// cannot be written, there is just no cache.
module.enableCompileCache?.(fileURLToPath(new URL('../../node_modules/.cache/sluice-compile', import.meta.url)));

// Node strips types with a WebAssembly build of swc that it loads on the first TypeScript file: about
// 15 MB of RSS and, for Sluice's own sources in a checkout, most of a second of CPU at every start. So
// the stripped JavaScript is kept on disk, beside the compile cache, under a hash of Node's version and
// the file's bytes: a file loads as plain JavaScript until it changes. Stripping only blanks the types
// out (every line and column stays where it was), so stack traces and error locations are unchanged.
const STRIPPED = fileURLToPath(new URL('../../node_modules/.cache/sluice-stripped/', import.meta.url));

const fromSources = existsSync(new URL('./load.ts', import.meta.url));

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
    // loader and tsx both take the format from here ('module-typescript': to be stripped, or compiled
    // by tsx when import-pipeline.ts has registered it).
    if (resolved.format !== 'module' && resolved.format !== 'module-typescript' && isPipelineTypeScript(resolved.url)) {
      return { ...resolved, format: 'module-typescript' };
    }
    return resolved;
  },
  load(url, context, nextLoad) {
    // `?compiled` is import-pipeline.ts's retry through tsx, for syntax that stripping refuses.
    if (context.format !== 'module-typescript' || !url.startsWith('file:') || url.includes('?compiled')) return nextLoad(url, context);
    const source = readFileSync(fileURLToPath(url));
    const cached = `${STRIPPED}${createHash('sha256').update(process.version).update(source).digest('hex').slice(0, 40)}.js`;
    try {
      return { format: 'module', source: readFileSync(cached), shortCircuit: true };
    } catch {
      // not stripped yet (or the cache cannot be read): strip it now
    }
    const stripped = stripTypes(source.toString('utf8'));
    try {
      mkdirSync(STRIPPED, { recursive: true, mode: 0o700 });
      const temporary = `${cached}.${process.pid}.tmp`;
      writeFileSync(temporary, stripped);
      renameSync(temporary, cached);
    } catch {
      // best effort, as for the compile cache
    }
    return { format: 'module', source: stripped, shortCircuit: true };
  },
});

// Called for every module loaded: string tests, no URL object (a third of the hook's time when it made one).
function isPipelineTypeScript(url) {
  const query = url.search(/[?#]/);
  const path = query === -1 ? url : url.slice(0, query);
  return (path.endsWith('.ts') || path.endsWith('.mts')) && path.startsWith('file:') && !path.includes('/node_modules/');
}

// What Node's loader does to a .ts file, called by hand. Node marks the function experimental and
// warns on its first call (the loader's own stripping, the same code, does not), so that one warning
// is held back: it would land in every `etl run`'s stderr, and the output is what the loader makes.
function stripTypes(code) {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return module.stripTypeScriptTypes(code, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
}
