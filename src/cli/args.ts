// What every command is handed, and the argument helpers the commands share.
import { SluiceError } from '../core/errors.ts';

export interface CommandIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** One `etl` command: a line for the main help, its own help, and the function that runs it. */
export interface Command {
  summary: string;
  help: string;
  run: (argv: string[], io: CommandIO) => Promise<number>;
}

/** A flag's milliseconds, checked: a number from `min` up, or undefined when the flag is absent. */
export function milliseconds(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (value.trim() === '' || !Number.isFinite(ms) || ms < min) {
    throw new SluiceError('INVALID_OPTION', `Expected \`${flag}\` to be a number of milliseconds from ${min} and up; got ${JSON.stringify(value)}.`);
  }
  return ms;
}
