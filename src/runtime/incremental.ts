import type { IncrementalState, SinkTransaction } from '../contracts/contracts.ts';

/** Where `run()` loads and saves a pipeline's incremental state (see `RunContext.state`). */
export interface RunStateStore {
  /** What the last committed run left. */
  readonly committed: Readonly<Record<string, unknown>>;
  /** Inside the sink's transaction, before COMMIT: saves `state` there and returns true, or false when it cannot (another database). */
  saveIn(transaction: SinkTransaction, state: Record<string, unknown>): Promise<boolean>;
  /** After the sink has committed, when `saveIn` did not save it. */
  save(state: Record<string, unknown>): Promise<void>;
}

/**
 * The run's view of its incremental state: values set during the run are saved only after the sink
 * commits (in its transaction when it calls `beforeCommit`, else just after it returns).
 */
export function incrementalState(store: RunStateStore | undefined) {
  if (store === undefined) return undefined;
  const pending: Record<string, unknown> = { ...store.committed };
  // What the rows the sink took say (their source traces): it wins over what the source set while it read ahead.
  const written: Record<string, unknown> = {};
  let changed = false;
  let saved = false;
  const toSave = () => ({ ...pending, ...written });
  const state: IncrementalState = {
    get: <T>(key: string) => store.committed[key] as T | undefined,
    set(key, value) {
      pending[key] = value;
      changed = true;
    },
  };
  return {
    state,
    /** The sink took a batch whose last row has this state: committed with it, whatever was read after. */
    written(values: Readonly<Record<string, unknown>>) {
      Object.assign(written, values);
      changed = true;
    },
    async beforeCommit(transaction: SinkTransaction) {
      if (changed) saved = await store.saveIn(transaction, toSave());
    },
    async afterCommit() {
      if (changed && !saved) await store.save(toSave());
    },
  };
}
