import type { AnyRow, Batch } from '../../batch/batch.ts';
import type { Sink, SinkContext, SinkResult } from '../../contracts/contracts.ts';
import { checkArgument, filePath } from '../../core/options.ts';
import { AtomicFile } from './atomic-file.ts';

/** Checks a file sink's path argument (`where` names the call, e.g. `toCsv()`). */
export function sinkPath(where: string, path: unknown): void {
  checkArgument(where, 'path', filePath, 'a file path (a non-empty string)', path);
}

/** Encodes batches to bytes for a file sink. `begin` sees the first batch (headers); `end` may close a document. */
export interface BatchEncoder {
  begin?(batch: Batch<unknown>): string;
  /**
   * Text, or bytes the encoder hands over, in one piece or in chunks written in order (written as they
   * are; the encoder touches them again only after `release`).
   */
  encode(batch: Batch<unknown>): string | Uint8Array | Uint8Array[];
  /** Called with each piece of bytes `encode` returned once it is written, so the encoder may reuse its memory. */
  release?(bytes: Uint8Array): void;
  /** Bytes that close the file after the last batch (a footer), if any. */
  end?(): Uint8Array[];
}

/**
 * A sink writing one file batch by batch, through an AtomicFile: the file appears under its name only
 * when every batch was written; on error or abort the temporary file is removed.
 */
export function fileSink<R = AnyRow>(kind: string, path: string, makeEncoder: () => BatchEncoder): Sink<R> {
  return {
    kind,
    describe: () => ({ kind, location: path }),
    async write(input: AsyncIterable<Batch<R>>, context: SinkContext): Promise<SinkResult> {
      let rowsWritten = 0;
      if (context.dryRun) {
        for await (const batch of input) rowsWritten += batch.length;
        return { rowsWritten, location: `${path} (dry run: not written)` };
      }
      const encoder = makeEncoder();
      const output = await AtomicFile.open(path);
      let committed = false;
      try {
        let first = true;
        for await (const batch of input) {
          if (first && encoder.begin !== undefined) {
            const head = encoder.begin(batch as Batch<unknown>);
            if (head !== '') await output.write(Buffer.from(head, 'utf8'));
          }
          first = false;
          const body = encoder.encode(batch as Batch<unknown>);
          if (typeof body === 'string') await output.write(Buffer.from(body, 'utf8'));
          else for (const bytes of Array.isArray(body) ? body : [body]) await output.write(bytes, encoder.release === undefined ? undefined : () => encoder.release!(bytes));
          rowsWritten += batch.length;
        }
        for (const bytes of encoder.end?.() ?? []) await output.write(bytes);
        await output.commit();
        committed = true;
        return { rowsWritten, location: path, bytesWritten: output.bytesWritten };
      } finally {
        if (!committed) await output.discard();
      }
    },
  };
}
