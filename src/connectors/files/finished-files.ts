/**
 * `incremental: true` for file sources: files finished by an earlier committed run are passed over. A
 * file is the same file when its path, size and modification time are unchanged; a file that changed is
 * read again in full. The list advances with the sink's commit (see `RunContext.state`), so a file is
 * marked finished only once its rows are committed. A file partly read (`--limit`, a failure) is not marked
 * and is read again from its start next time.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SourceContext } from '../../contracts/contracts.ts';

/** Where file sources keep the finished files in the run's incremental state. */
export const FINISHED_FILES_STATE_KEY = 'files.finished';

type Finished = Record<string, { size: number; mtimeMs: number }>;

export interface FileProgress {
  /** The files still to read, in order. */
  files: string[];
  /** Marks a file whose rows have all been handed on; committed with the sink. */
  finished(file: string): Promise<void>;
}

export async function unfinishedFiles(files: readonly string[], context: SourceContext, incremental: boolean | undefined): Promise<FileProgress> {
  if (!incremental) return { files: [...files], finished: async () => {} };
  if (context.state === undefined) {
    context.warn({ code: 'INCREMENTAL_WITHOUT_STATE', message: '`incremental` has no state store in this run (use etl run or etl schedule): every file is read.' });
    return { files: [...files], finished: async () => {} };
  }
  const before = context.state.get<Finished>(FINISHED_FILES_STATE_KEY) ?? {};
  // Only files the source still matches are kept, so the list does not grow with files since removed.
  const finished: Finished = {};
  const todo: string[] = [];
  for (const file of files) {
    const path = resolve(file);
    const info = await stat(path);
    const known = before[path];
    if (known !== undefined && known.size === info.size && known.mtimeMs === info.mtimeMs) finished[path] = known;
    else todo.push(file);
  }
  context.state.set(FINISHED_FILES_STATE_KEY, finished);
  return {
    files: todo,
    async finished(file) {
      const info = await stat(resolve(file));
      finished[resolve(file)] = { size: info.size, mtimeMs: info.mtimeMs };
      context.state!.set(FINISHED_FILES_STATE_KEY, { ...finished });
    },
  };
}
