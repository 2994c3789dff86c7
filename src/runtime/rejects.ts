import { appendFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type ErrorLocation, SluiceError } from '../core/errors.ts';
import type { RejectOptions } from './pipeline.ts';
import type { Violation } from '../schema/decode.ts';

/**
 * Rows that broke the schema. Without a reject output the first one fails the run with its location;
 * with one, each goes to an NDJSON file with the same facts until `max` is passed. The file is written
 * under a temporary name and moved into place when the run ends, whatever its outcome: the rejects
 * explain a failed run too.
 */
export class Rejects {
  count = 0;
  private lines: string[] = [];
  private readonly temporaryPath: string | undefined;
  private started = false;

  private readonly options: RejectOptions | undefined;
  private readonly pipeline: string;
  private readonly dryRun: boolean;
  constructor(
    options: RejectOptions | undefined,
    pipeline: string,
    /** `--dry-run`: rows are counted (and `max` applies) but no file is written or replaced. */
    dryRun = false,
  ) {
    this.options = options;
    this.pipeline = pipeline;
    this.dryRun = dryRun;
    if (options !== undefined) {
      if (typeof options.path !== 'string' || options.path === '') {
        throw new SluiceError('INVALID_OPTION', 'Expected `rejects.path` to be a file path, e.g. { path: "out/rejects.ndjson" }.');
      }
      const max = options.max ?? Infinity;
      if (!(max >= 0)) throw new SluiceError('INVALID_OPTION', `Expected \`rejects.max\` to be a number from 0 and up; got ${options.max}.`);
      this.temporaryPath = `${options.path}.${process.pid}.tmp`;
    }
  }

  get path(): string | undefined {
    return this.options?.path;
  }

  async reject(violation: Violation, location: ErrorLocation): Promise<void> {
    const details = {
      ...location,
      column: violation.column,
      value: violation.value,
      rule: violation.rule,
      pipeline: this.pipeline,
    };
    const where = location.file !== undefined ? `${location.file}${location.line !== undefined ? `:${location.line}` : ''}` : location.query !== undefined ? `row ${location.row}` : '';
    const message = `${where}: ${violation.message}`;
    if (this.options === undefined) throw new SluiceError('SCHEMA_VIOLATION', message, details);
    this.count++;
    this.lines.push(JSON.stringify({ code: 'SCHEMA_VIOLATION', message, ...details }));
    if (this.lines.length >= 1000) await this.flush();
    const max = this.options.max ?? Infinity;
    if (this.count > max) {
      throw new SluiceError(
        'REJECT_LIMIT',
        `More than ${max} rows were rejected (see ${this.options.path}); the last: ${message}`,
        details,
      );
    }
  }

  private async flush(): Promise<void> {
    if (this.dryRun) this.lines = [];
    if (this.temporaryPath === undefined || this.lines.length === 0) return;
    if (!this.started) {
      await mkdir(dirname(this.temporaryPath), { recursive: true });
      await rm(this.temporaryPath, { force: true });
      this.started = true;
    }
    const text = `${this.lines.join('\n')}\n`;
    this.lines = [];
    await appendFile(this.temporaryPath, text);
  }

  /** Moves the reject file into place (only when something was rejected). */
  async close(): Promise<void> {
    await this.flush();
    if (this.started && this.temporaryPath !== undefined) await rename(this.temporaryPath, this.options!.path);
  }
}
