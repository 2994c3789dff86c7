/**
 * Whether Sluice may generate code (`new Function`) for its hot loops. Generated loops are only a
 * speed-up: every one has a plain counterpart that gives the same results, used when code generation
 * is switched off (`SLUICE_JITLESS=1`) or refused (`node --disallow-code-generation-from-strings`, a
 * host whose policy forbids eval, such as a locked-down serverless runtime or a CSP).
 */

/** The environment variable that switches code generation off: `SLUICE_JITLESS=1`. */
export const JITLESS_VARIABLE = 'SLUICE_JITLESS';

let allowed: boolean | undefined;

/**
 * Whether this process lets code be made from strings. Asked once: the V8 flag and a host's policy are
 * fixed for the life of a process. Refusal is an EvalError; anything else thrown is not ours to hide.
 */
export function codeGenerationAllowed(): boolean {
  if (allowed === undefined) {
    try {
      allowed = new Function('return true')() === true;
    } catch (error) {
      if (!(error instanceof EvalError)) throw error;
      allowed = false;
    }
  }
  return allowed;
}

/**
 * Whether to use generated loops: allowed, and not switched off. The variable is read on each call, so
 * a reader or writer decides when it is made (once per file or sink, never per row) and tests can run
 * both modes in one process.
 */
export function codeGenerationEnabled(): boolean {
  const jitless = process.env[JITLESS_VARIABLE];
  if (jitless !== undefined && jitless !== '' && jitless !== '0') return false;
  return codeGenerationAllowed();
}

/** Called when a host refused code after the probe allowed it: everything after takes the plain path. */
export function codeGenerationRefused(): void {
  allowed = false;
}
