/**
 * Which input batch an output batch was made from, when a stage says so. The run uses it to move a
 * batch's memory reservation onto the batch made from it, so a stage with several batches in flight
 * (mapBatches) passes each reservation on with its own result instead of all of them with the first.
 */
const parents = new WeakMap<object, object>();

export function markDerived(output: object, input: object): void {
  if (output !== input) parents.set(output, input);
}

export function parentOf(output: object): object | undefined {
  return parents.get(output);
}
