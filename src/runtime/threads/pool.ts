/**
 * The worker threads of one threaded run: started at once, each importing the pipeline file, and
 * terminated when the run ends, however it ends.
 *
 * Hand-written rather than on piscina: a piscina task is one call with one result, and a part here is a
 * stream of batches with credit going back, the line count of the part going on to the next, and a
 * cancel; piscina would carry our protocol over a MessagePort anyway, and its queue, its
 * idle timeouts and its resizing are features this does not use.
 *
 * Workers start without tsx: Sluice's sources are erasable TypeScript, which Node 22 strips itself (or
 * plain JavaScript from dist/). Through tsx, each worker spent ~5 s of CPU compiling them first.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../../core/errors.ts';
import type { FromWorker, SerializedError, ToWorker, WorkerStart } from './protocol.ts';

const WORKER_URL = new URL(`./worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** Test hooks: a test kills a worker mid-run through this (never set outside tests). */
export const threadTestHooks: { onWorker?: (worker: Worker, index: number) => void } = {};

export interface PoolWorker {
  readonly index: number;
  post(message: ToWorker): void;
}

/** The flags of this process a worker keeps: all but those that load tsx (a compiler per worker). */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if ((flag === '--import' || flag === '--loader' || flag === '--require' || flag === '-r') && /tsx/.test(argv[i + 1] ?? '')) {
      i++;
      continue;
    }
    if (/^--(import|loader|experimental-loader|require)=.*tsx/.test(flag)) continue;
    kept.push(flag);
  }
  return kept;
}

export class ThreadPool {
  readonly workers: PoolWorker[] = [];
  private readonly threads: Worker[] = [];
  private closing = false;
  private readonly ready: Promise<void>;

  private onMessage: (worker: PoolWorker, message: FromWorker) => void = () => {};
  private onFailure: (error: SluiceError) => void = (error) => {
    this.failure ??= error;
  };
  private failure: SluiceError | undefined;

  /** Starts `count` workers loading `module`; they load it while the run plans its parts. */
  constructor(module: string, count: number) {
    const started: Promise<void>[] = [];
    for (let index = 0; index < count; index++) {
      const thread = new Worker(WORKER_URL, { workerData: { module } satisfies WorkerStart, execArgv: workerExecArgv() });
      const worker: PoolWorker = { index, post: (message) => thread.postMessage(message) };
      this.threads.push(thread);
      this.workers.push(worker);
      threadTestHooks.onWorker?.(thread, index);
      started.push(
        new Promise<void>((resolve, reject) => {
          thread.on('message', (message: FromWorker) => {
            if (message.type === 'ready') resolve();
            else if (message.type === 'load-failed') reject(loadFailed(module, message.error));
            else this.onMessage(worker, message);
          });
          thread.on('error', (error) => {
            const failure = workerFailed(index, `threw ${error instanceof Error ? error.message : String(error)}`, error);
            reject(failure);
            if (!this.closing) this.onFailure(failure);
          });
          thread.on('exit', (code) => {
            const failure = workerFailed(index, `exited with code ${code}`);
            reject(failure);
            if (!this.closing) this.onFailure(failure);
          });
        }),
      );
    }
    this.ready = Promise.all(started).then(() => {});
    // Rejections are taken by whenReady or by onFailure; never unhandled.
    this.ready.catch(() => {});
  }

  /** Where the workers' messages and failures go from now on (a failure before this is handed on at once). */
  listen(onMessage: (worker: PoolWorker, message: FromWorker) => void, onFailure: (error: SluiceError) => void): void {
    this.onMessage = onMessage;
    this.onFailure = onFailure;
    if (this.failure !== undefined) onFailure(this.failure);
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }
}

function workerFailed(index: number, what: string, cause?: unknown): SluiceError {
  return new SluiceError('WORKER_FAILED', `worker thread ${index + 1} ${what}: the run is stopped and its output not committed.`, { cause });
}

function loadFailed(module: string, error: SerializedError): SluiceError {
  return new SluiceError('WORKER_FAILED', `a worker thread could not load the pipeline file ${fileURLToPath(module)}: ${error.message}`, { file: fileURLToPath(module) });
}
