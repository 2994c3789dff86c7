/**
 * Imports a pipeline file. Run from the package's compiled JavaScript, Node strips a TypeScript file's
 * types itself; what stripping refuses (an enum, a parameter property, a namespace: syntax that has to
 * be compiled, not erased) or cannot parse goes to tsx, loaded for that file only, so that the file
 * either loads or fails with tsx's message, which names the line and column.
 */
const NEEDS_A_COMPILER = new Set(['ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_INVALID_TYPESCRIPT_SYNTAX']);

export async function importPipelineFile(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string } | null)?.code;
    if (!NEEDS_A_COMPILER.has(code ?? '') && !(error instanceof SyntaxError)) throw error;
    const { register } = await import('tsx/esm/api');
    register();
    // A new URL: Node keeps the failed attempt under the old one.
    return (await import(`${url}${url.includes('?') ? '&' : '?'}compiled`)) as Record<string, unknown>;
  }
}
