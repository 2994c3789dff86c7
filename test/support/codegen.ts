import { JITLESS_VARIABLE } from '../../src/codegen/switch.ts';

/**
 * Runs `body` with code generation on (`true`) or switched off by SLUICE_JITLESS (`false`), restoring
 * the variable after. Readers and writers made inside take the matching path.
 */
export async function withCodeGeneration<T>(enabled: boolean, body: () => Promise<T> | T): Promise<T> {
  const before = process.env[JITLESS_VARIABLE];
  if (enabled) delete process.env[JITLESS_VARIABLE];
  else process.env[JITLESS_VARIABLE] = '1';
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env[JITLESS_VARIABLE];
    else process.env[JITLESS_VARIABLE] = before;
  }
}

/** Both modes, generated first: the label to name each in assertions. */
export const CODE_GENERATION_MODES = [
  { enabled: true, label: 'generated' },
  { enabled: false, label: 'jitless' },
] as const;
