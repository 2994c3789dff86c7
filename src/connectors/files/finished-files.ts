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

/** Finished files by absolute path, with the size and modification time they had when read. */
export type FinishedFiles = Record<string, { size: number; mtimeMs: number }>;
type Finished = FinishedFiles;

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
  const { finished, todo } = await splitFinished(files, context.state.get<Finished>(FINISHED_FILES_STATE_KEY) ?? {});
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

/**
 * Of `files`, those `before` lists as finished and that are still the same file, and those to read,
 * with what each of these is now (`found`). Only files the source still matches are kept in
 * `finished`, so the list does not grow with files since removed.
 */
export async function splitFinished(files: readonly string[], before: Finished): Promise<{ finished: Finished; todo: string[]; found: Finished }> {
  const finished: Finished = {};
  const found: Finished = {};
  const todo: string[] = [];
  for (const file of files) {
    const path = resolve(file);
    const info = await stat(path);
    const known = before[path];
    if (known !== undefined && known.size === info.size && known.mtimeMs === info.mtimeMs) finished[path] = known;
    else {
      todo.push(file);
      found[path] = { size: info.size, mtimeMs: info.mtimeMs };
    }
  }
  return { finished, todo, found };
}
