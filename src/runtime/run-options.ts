/**
 * The check of `run()`'s and `runOrThrow()`'s options (their types are `RunOptions` in run.ts): done once,
 * when called, so `run(p, { dryrun: true })` fails at once instead of writing.
 */
import { z } from 'zod';
import { byteSize, checkOptions, functionValue, integerFrom, option, optionsObject, signalValue } from '../core/options.ts';
import { MemoryBudget } from './budget.ts';
import { THREADS, THREADS_EXPECTED } from './pipeline-options.ts';

const STATE_STORE = z.object({ committed: z.record(z.string(), z.unknown()), saveIn: functionValue, save: functionValue });

export const RUN_OPTIONS = optionsObject({
  memory: option(byteSize, "a size such as '256MB' or a number of bytes"),
  concurrency: option(integerFrom(1), 'a whole number from 1 and up'),
  limit: option(integerFrom(0), 'a whole number of rows from 0 and up'),
  dryRun: option(z.boolean(), 'true or false'),
  signal: option(signalValue, 'an AbortSignal'),
  onProgress: option(functionValue, 'a function'),
  onWarning: option(functionValue, 'a function'),
  tempDir: option(z.string().min(1), "a folder such as '/mnt/scratch'"),
  budget: option(z.instanceof(MemoryBudget), 'a MemoryBudget'),
  state: option(STATE_STORE, 'a state store { committed, saveIn, save }'),
  onSample: option(functionValue, 'a function'),
  openTelemetry: option(z.boolean(), 'true or false'),
  threads: option(THREADS, THREADS_EXPECTED),
});

/** @throws SluiceError INVALID_OPTION with `details.option`. */
export function checkRunOptions(options: unknown, where = 'run()'): void {
  checkOptions(where, RUN_OPTIONS, options);
}
