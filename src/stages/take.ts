import { SluiceError } from '../core/errors.ts';
import type { Stage } from '../contracts/contracts.ts';

/** The first `count` rows; then stops reading, so the source closes its file or cursor early. */
export function take<R>(count: number): Stage<R, R> {
  if (!Number.isInteger(count) || count < 0) {
    throw new SluiceError('INVALID_OPTION', `Expected \`take\` count to be a whole number from 0 and up; got ${count}.`);
  }
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
  return stage;
}
