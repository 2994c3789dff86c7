/**
 * The runs going on on this machine, for `etl top`: each `etl run` and each scheduler child writes its
 * figures (LiveSample) about every second to a file of its own in a private folder, and removes it when
 * it ends. No socket and no network listener: a file per run, replaced atomically (written aside, then
 * renamed), read by whoever lists the folder. A run killed with SIGKILL leaves its file behind; readers
 * skip (and remove) files whose process is gone.
 *
 * The folder is `$SLUICE_RUNS_DIR`, else `sluice/runs` in `$XDG_RUNTIME_DIR` (the user's private
 * runtime folder on systemd machines), else in `$XDG_CACHE_HOME` or `~/.cache` — never the shared
 * temporary folder, where a predictable name invites another user in. It is created with mode 0700 and
 * refused when it is a symlink, not the user's own, or open to others (another user could otherwise read
 * the figures, or plant files for `etl top` to show).
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../core/errors.ts';
import type { LiveSample } from '../runtime/run.ts';

/** What a run publishes: its figures, and who it is. */
export interface LiveStatus extends LiveSample {
  pid: number;
  /** The pipeline file, when the run came from one. */
  file?: string;
  updatedAt: string;
}

export function liveStatusFolder(): string {
  const env = process.env;
  if (env['SLUICE_RUNS_DIR']) return env['SLUICE_RUNS_DIR'];
  if (env['XDG_RUNTIME_DIR']) return join(env['XDG_RUNTIME_DIR'], 'sluice', 'runs');
  return join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'sluice', 'runs');
}

/** The folder, made private if new; refused when it is not a real folder of this user's, mode 0700. */
function privateFolder(): string {
  const folder = liveStatusFolder();
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const stat = lstatSync(folder);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid) || (stat.mode & 0o077) !== 0) {
    throw new SluiceError('STATE_WRITE', `${folder} is not a private folder of this user's (mode 0700): live run figures are not published there. Remove it, or set SLUICE_RUNS_DIR.`, {
      file: folder,
    });
  }
  return folder;
}

let published = 0;

/**
 * Publishes one run's figures while it goes: hand `onSample` to `run()`, and call `close` when it ends
 * (in `finally`). Publishing never fails the run: a folder that cannot be used turns it off.
 */
export function publishLiveStatus(file?: string): { onSample: (sample: LiveSample) => void; close: () => void } {
  let folder: string | undefined;
  try {
    folder = privateFolder();
  } catch {
    folder = undefined;
  }
  const name = `${process.pid}-${++published}.json`;
  return {
    onSample(sample) {
      if (folder === undefined) return;
      const status: LiveStatus = { ...sample, pid: process.pid, ...(file === undefined ? {} : { file }), updatedAt: new Date().toISOString() };
      const aside = join(folder, `.${name}.tmp`);
      writeFileSync(aside, JSON.stringify(status), { mode: 0o600 });
      renameSync(aside, join(folder, name));
    },
    close() {
      if (folder === undefined) return;
      rmSync(join(folder, name), { force: true });
      rmSync(join(folder, `.${name}.tmp`), { force: true });
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The runs publishing now, oldest first; the files of processes that are gone are removed. */
export function readLiveStatuses(): LiveStatus[] {
  const folder = liveStatusFolder();
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  const statuses: LiveStatus[] = [];
  for (const name of names) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    const path = join(folder, name);
    let status: LiveStatus;
    try {
      status = JSON.parse(readFileSync(path, 'utf8')) as LiveStatus;
    } catch {
      continue; // removed meanwhile
    }
    if (!alive(status.pid)) {
      rmSync(path, { force: true });
      continue;
    }
    statuses.push(status);
  }
  return statuses.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
