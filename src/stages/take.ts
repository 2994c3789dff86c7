import { checkArgument, integerFrom } from '../core/options.ts';
import type { Stage } from '../contracts/contracts.ts';
import { passesOn } from '../contracts/columns.ts';

/** The first `count` rows; then stops reading, so the source closes its file or cursor early. */
export function take<R>(count: number): Stage<R, R> {
  checkArgument('take()', 'count', integerFrom(0), 'a whole number of rows from 0 and up', count);
  const stage: Stage<R, R> = async function* takeStage(input) {
    let left = count;
    if (left === 0) return;
    for await (const batch of input) {
      if (batch.length <= left) {
        left -= batch.length;
        yield batch;
      } else {
        yield batch.head(left);
        left = 0;
      }
      if (left === 0) return;
    }
  };
  stage.stageName = 'take';
  stage.columns = passesOn([]);
  return stage;
}
