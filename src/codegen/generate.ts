/**
 * The one place Sluice turns source text into functions, and the cache of what it made. Generated code
 * is named `sluice-generated/<what>-<key>.js` (a `//# sourceURL`), so a stack trace or a CPU profile
 * says which loop it was in instead of `eval at compile`; `<key>` is a hash of the layout the code was
 * made for, the same in every run.
 *
 * Callers put only numbers they computed into the source (kinds, column indexes, bytes, bounds); names
 * and text from a file or a schema never go in. Helpers the code calls are passed by name, not closed
 * over, so the source says everything the code can reach.
 */
import { codeGenerationEnabled, codeGenerationRefused } from './switch.ts';

/**
 * A function from `source`, the body of a factory whose locals are `helpers` (by their names) and which
 * returns the function. `name` becomes the code's file name in stack traces and profiles.
 */
export function generate<T>(name: string, helpers: Readonly<Record<string, unknown>>, source: string): T {
  const names = Object.keys(helpers);
  for (const helper of names) if (!/^[A-Za-z_$][\w$]*$/.test(helper)) throw new TypeError(`generate: not a helper name: ${helper}`);
  const body = `const { ${names.join(', ')} } = helpers;\n${source}\n//# sourceURL=sluice-generated/${name}.js`;
  return new Function('helpers', body)(helpers) as T;
}

/** Layouts seen in a process are few (one per schema and header, per row shape); the cap only guards a runaway. */
const MAX_CACHED = 256;

/** The key of a layout: its JSON, with the infinities of open bounds kept (JSON would make them null). */
function layoutKey(layout: unknown): string {
  return JSON.stringify(layout, (_, value) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value));
}

/**
 * Generated code per layout: built on first use, shared by every reader or writer with the same layout
 * (one function, and V8's optimized code for it, per layout).
 */
export class GeneratedCode<Layout, Code> {
  private readonly cache = new Map<string, Code>();

  /** `build` makes the code for a layout; `name` is what to call it in {@link generate}. */
  private readonly what: string;
  private readonly build: (layout: Layout, name: string) => Code;
  constructor(
    what: string,
    build: (layout: Layout, name: string) => Code,
  ) {
    this.what = what;
    this.build = build;
  }

  /**
   * The code for `layout`, or null when code generation is off or refused (the caller takes its plain
   * path). A host that refuses code the probe was allowed to make is remembered as refusing.
   */
  get(layout: Layout): Code | null {
    if (!codeGenerationEnabled()) return null;
    const key = layoutKey(layout);
    let code = this.cache.get(key);
    if (code === undefined) {
      try {
        code = this.build(layout, `${this.what}-${hashKey(key)}`);
      } catch (error) {
        if (!(error instanceof EvalError)) throw error;
        codeGenerationRefused();
        return null;
      }
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, code);
    }
    return code;
  }
}

/** FNV-1a of the key, as 8 hex digits: a short, stable name for a layout (names only label code). */
function hashKey(key: string): string {
  let hash = 0x811c9dc5;
  for (let k = 0; k < key.length; k++) hash = Math.imul(hash ^ key.charCodeAt(k), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}
