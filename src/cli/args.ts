// What every command is handed, and the argument helpers the commands share: each flag is read and
// checked once, here, with a message that names the flag and says what it must be.
import { statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseBytes } from '../core/bytes.ts';
import { SluiceError } from '../core/errors.ts';
import { closestName } from '../core/options.ts';
import { DELIMITER_EXPECTED, delimiterCharacter } from '../connectors/csv/options.ts';

export interface CommandIO {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/** One `etl` command: a line for the main help, and the function that runs it (with its own --help). */
export interface Command {
  summary: string;
  run: (argv: string[], io: CommandIO) => Promise<number>;
}

type Flags = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags (node:util parseArgs, strict). An unknown flag is refused with the nearest
 * known one (`--limt` → did you mean `--limit`?), a flag missing its value with how to give it.
 *
 * @throws SluiceError INVALID_OPTION with `details.option` (the flag as typed).
 */
export function parseFlags<const O extends Flags>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) {
      const flag = unknown[1];
      const known = Object.keys(options).map((name) => `--${name}`);
      const nearest = closestName(flag.replace(/^-+/, '--'), known);
      const hint = nearest === undefined ? '' : ` Did you mean \`${nearest}\`?`;
      throw new SluiceError('INVALID_OPTION', `${command}: unknown option \`${flag}\`.${hint} See ${command} --help.`, {
        option: flag,
        value: flag,
        expected: nearest ?? `one of ${known.join(', ')}`,
      });
    }
    if (code?.startsWith('ERR_PARSE_ARGS') === true) {
      throw new SluiceError('INVALID_OPTION', `${command}: ${message.replace(/\.$/, '')}. See ${command} --help.`, { cause: error });
    }
    throw error;
  }
}

function refuse(flag: string, expected: string, value: string): never {
  throw new SluiceError('INVALID_OPTION', `Expected \`${flag}\` to be ${expected}; got ${JSON.stringify(value)}.`, {
    option: flag,
    value: JSON.stringify(value),
    expected,
  });
}

/** A flag's whole number, from `min` up, or undefined when the flag is absent. */
export function wholeNumber(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < min) refuse(flag, `a whole number from ${min} and up`, value);
  return number;
}

/** A flag's milliseconds, checked: a number from `min` up, or undefined when the flag is absent. */
export function milliseconds(value: string | undefined, flag: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (value.trim() === '' || !Number.isFinite(ms) || ms < min) refuse(flag, `a number of milliseconds from ${min} and up`, value);
  return ms;
}

/** A flag's byte size (`256MB`, `1GB`), or undefined when the flag is absent. */
export function byteSizeFlag(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : parseBytes(value, flag);
}

/** A flag's folder, which must exist and be a folder (checked before anything runs). */
export function folderFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  let isFolder = false;
  try {
    isFolder = statSync(value).isDirectory();
  } catch {
    isFolder = false;
  }
  if (value.trim() === '' || !isFolder) refuse(flag, 'an existing folder', value);
  return value;
}

/** A flag that takes one of a few words. */
export function choice<const C extends string>(value: string | undefined, flag: string, choices: readonly C[]): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) refuse(flag, choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`, value);
  return value as C;
}

/** A CSV delimiter flag, in the spellings `csv()` takes (`;`, `tab`, `\t`, …), as its character. */
export function delimiterFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  return delimiterCharacter(value) ?? refuse(flag, DELIMITER_EXPECTED, value);
}

/** A flag that takes one character (a quote). */
export function characterFlag(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 1) refuse(flag, 'one character', value);
  return value;
}
