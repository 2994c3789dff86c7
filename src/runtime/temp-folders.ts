import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../core/errors.ts';

/**
 * A run's temporary folders for spills: one private folder per run, made on the first stage's first
 * request, with a folder in it per stage; all removed by `remove()` when the run ends.
 */
export class TempFolders {
  private root: Promise<string> | undefined;
  private readonly folders = new Map<string, Promise<string>>();

  /** `base`: the folder to make the run's folder in (`tempDir`); else SLUICE_TEMP_DIR, else the OS's. */
  private readonly pipeline: string;
  private readonly base?: string;
  constructor(
    pipeline: string,
    base?: string,
  ) {
    this.pipeline = pipeline;
    this.base = base;
  }

  /** The stage's folder, made on first use; the same path on every call. */
  folderFor(stage: string): Promise<string> {
    let folder = this.folders.get(stage);
    if (folder === undefined) {
      folder = this.make(stage);
      this.folders.set(stage, folder);
    }
    return folder;
  }

  /** Removes every folder made, with its files. Safe to call when none was made. */
  async remove(): Promise<void> {
    if (this.root === undefined) return;
    const root = await this.root.catch(() => undefined);
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  }

  private async make(stage: string): Promise<string> {
    this.root ??= this.makeRoot();
    const folder = join(await this.root, stage.replace(/[^A-Za-z0-9._-]+/g, '_'));
    await mkdir(folder, { mode: 0o700 });
    return folder;
  }

  private async makeRoot(): Promise<string> {
    const base = this.base || process.env.SLUICE_TEMP_DIR || tmpdir();
    try {
      const root = await mkdtemp(join(base, 'sluice-'));
      // mkdtemp makes it 0700 already; say so, whatever the umask or platform did.
      await chmod(root, 0o700);
      return root;
    } catch (error) {
      // OUTPUT_WRITE: like a sink's, a folder the run must write to could not be made.
      throw new SluiceError('OUTPUT_WRITE', `Could not make a temporary folder under ${base} for ${this.pipeline}: ${(error as Error).message}; set tempDir (--temp-dir) to a writable folder.`, {
        pipeline: this.pipeline,
        cause: error,
      });
    }
  }
}
