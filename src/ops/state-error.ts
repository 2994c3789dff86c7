import { SluiceError } from '../core/errors.ts';

/**
 * A state folder that cannot be written (full, read-only, not ours): STATE_WRITE naming the file and
 * what to do, instead of the system's bare error. `doing` reads as "Cannot <doing> <path>".
 */
export function stateWriteError(path: string, doing: string, error: unknown, pipeline?: string): SluiceError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = error instanceof Error ? error.message : String(error);
  const hint =
    code === 'ENOSPC' || code === 'EDQUOT' ? `the disk (or quota) holding it is full (${code}); free some space`
    : code === 'EROFS' ? 'the file system is read-only; make it writable'
    : code === 'EACCES' || code === 'EPERM' ? `permission denied (${code}); let this user write there`
    : code === 'ENAMETOOLONG' ? 'the name is too long for the file system; give the pipeline a shorter name'
    : code === 'ENOTDIR' ? 'a part of the path is a file, not a folder; move it'
    : reason;
  return new SluiceError(
    'STATE_WRITE',
    `Cannot ${doing} ${path}: ${hint}, or point the pipeline's state elsewhere (\`state: { folder }\` or a PostgreSQL \`state: { connection }\`).`,
    { file: path, pipeline, cause: error },
  );
}
