import type { Batch } from '../../batch/batch.ts';
import { SluiceError } from '../../errors.ts';
import type { SourceContext } from '../../pipeline.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { ResolvedCsvOptions } from './options.ts';

/** Placeholder until the byte-level reader lands: `auto` picks csv-parse while this is false. */
export const fastEngineAvailable = false;

export async function* readFastBatches(
  file: string,
  _plans: ColumnPlan[],
  _options: ResolvedCsvOptions,
  _context: SourceContext,
  _progress: (bytes: number) => void,
): AsyncGenerator<Batch> {
  throw new SluiceError('INVALID_OPTION', `The fast CSV reader is not available yet (reading ${file}); use engine: 'csv-parse'.`);
}
