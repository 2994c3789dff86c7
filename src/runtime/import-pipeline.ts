/**
 * Imports a pipeline file. Node strips a TypeScript file's types itself. What it cannot load that tsx can — syntax to compile rather than erase (an enum, a
 * parameter property, a namespace), an import without its extension, a Node without type stripping
 * (22.6 to 22.17 without --experimental-strip-types) — is imported again through tsx, registered for
 * that only. A file that neither loads then fails with tsx's message, which names the line and column.
 */
const TSX_MAY_LOAD = new Set(['ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX', 'ERR_INVALID_TYPESCRIPT_SYNTAX', 'ERR_UNKNOWN_FILE_EXTENSION', 'ERR_MODULE_NOT_FOUND']);

export async function importPipelineFile(url: string): Promise<Record<string, unknown>> {
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string } | null)?.code;
    if (!TSX_MAY_LOAD.has(code ?? '') && !(error instanceof SyntaxError)) throw error;
    const { register } = await import('tsx/esm/api');
    register();
    // Another URL: Node keeps the failed attempt under this one.
    return (await import(`${url}${url.includes('?') ? '&' : '?'}compiled`)) as Record<string, unknown>;
  }
}
