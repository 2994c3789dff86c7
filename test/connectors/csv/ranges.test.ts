import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { csv } from '../../../src/index.ts';
import { findCuts } from '../../../src/connectors/csv/boundaries.ts';
import { RangeMisaligned, type FileRange } from '../../../src/connectors/files/file-source.ts';
import { countLines } from '../../../src/connectors/files/line-count.ts';
import type { Source, SourceContext, ThreadPart } from '../../../src/contracts/contracts.ts';
import { tempDir } from '../../support/fakes.ts';

function context(): SourceContext {
  return {
    pipeline: 'ranges',
    signal: new AbortController().signal,
    warn() {},
    batchRows: () => 3,
    async reject(violation, location) {
      throw new Error(`reject ${JSON.stringify(location)} ${violation.message}`);
    },
    progress() {},
    engine() {},
    columnsRead() {},
  };
}

interface Read {
  rows: unknown[][];
  error?: { code: string; line?: number; column?: unknown; message: string };
}

async function collectRows(batches: AsyncIterable<any>, rows: unknown[][]): Promise<void> {
  for await (const batch of batches) {
    for (const [i, row] of batch.toObjects().entries()) rows.push([batch.lineOf(i), ...Object.values(row)]);
  }
}

function errorOf(error: any): Read['error'] {
  return { code: error.code, line: error.details?.line, column: error.details?.column, message: error.message };
}

async function wholeRead(source: Source): Promise<Read> {
  const rows: unknown[][] = [];
  try {
    await collectRows(source.read(context()), rows);
  } catch (error) {
    return { rows, error: errorOf(error) };
  }
  return { rows };
}

/**
 * Reads parts in order as a threaded run does: each starts on the line after those of the parts before
 * (countLines); a misaligned part is read again joined to the next.
 */
async function partsRead(source: Source, file: string, given: ThreadPart[]): Promise<Read & { joins: number }> {
  const parts = [...given];
  const rows: unknown[][] = [];
  let joins = 0;
  for (let k = 0; k < parts.length; ) {
    const part = parts[k];
    const spec = part.spec as { range: FileRange };
    spec.range.firstLine = 1 + (await countLines(file, 0, part.start));
    const partRows: unknown[][] = [];
    try {
      await collectRows(source.partition!(spec).read(context()), partRows);
    } catch (error) {
      if (error instanceof RangeMisaligned) {
        // What the part handed on before the record it left open is the file's.
        rows.push(...partRows);
        if (error.resumeAt > part.start) assert.equal(error.resumeLine, 1 + (await countLines(file, 0, error.resumeAt)), 'the line the part reads on from');
        parts.splice(k, 2, part.joined!(parts[k + 1], error.resumeAt, error.resumeLine));
        joins++;
        continue;
      }
      rows.push(...partRows);
      return { rows, error: errorOf(error), joins };
    }
    rows.push(...partRows);
    k++;
  }
  return { rows, joins };
}

/** The parts of `file` cut at `cuts` (any byte offsets), as threadParts builds them. */
async function partsAt(source: Source, file: string, size: number, cuts: number[], header: string[]): Promise<ThreadPart[]> {
  const threaded = await source.threadParts!({ threads: 1, signal: new AbortController().signal, warn() {} });
  const template = threaded!.parts[0];
  const offsets = [0, ...cuts, size];
  const parts: ThreadPart[] = [];
  for (let k = 0; k + 1 < offsets.length; k++) {
    const range: FileRange = { start: offsets[k], end: offsets[k + 1], last: k + 2 === offsets.length, firstLine: 0, ...(k > 0 ? { header } : {}) };
    // The source's own spec for the whole file, its range replaced.
    parts.push(withJoin({ ...template, spec: { ...(template.spec as object), range }, start: range.start, end: range.end, bytes: range.end - range.start, last: range.last }, template));
  }
  return parts;
}

function withJoin(part: ThreadPart, template: ThreadPart): ThreadPart {
  return {
    ...part,
    joined(next, resumeAt, resumeLine) {
      const range = (part.spec as { range: FileRange }).range;
      const nextRange = (next.spec as { range: FileRange }).range;
      const merged: FileRange = { ...range, end: nextRange.end, last: nextRange.last };
      if (resumeAt !== undefined && resumeAt > range.start) Object.assign(merged, { start: resumeAt, firstLine: resumeLine, header: range.header ?? nextRange.header });
      return withJoin({ ...part, spec: { ...(template.spec as object), range: merged }, start: merged.start, end: merged.end, bytes: merged.end - merged.start, last: merged.last }, template);
    },
  };
}

const TRICKY =
  '\uFEFFid,name,note,amount\r\n' +
  '1,alpha,"line one\nline two",1.5\r\n' +
  '2,"be, ta","say ""hi""\r\nthen\n\nmore",2\n' +
  '\n' +
  '3,gamma,"a,b,c\n4,fake,row,9\n",3.25\n' +
  '4,"d\nelta",,\n' +
  '5,é ü,"x",-1\n' +
  '6,last,"""quoted""",7';

test('a boundary forced at every byte offset of a small file gives the rows and lines of one whole read', async () => {
  const dir = await tempDir();
  const file = join(dir, 'tricky.csv');
  await writeFile(file, TRICKY);
  const size = Buffer.byteLength(TRICKY);
  const source = csv(file);
  const whole = await wholeRead(source);
  assert.equal(whole.error, undefined);
  assert.equal(whole.rows.length, 6);
  let joins = 0;
  for (let cut = 1; cut < size; cut++) {
    const threaded = await partsRead(source, file, await partsAt(source, file, size, [cut], ['id', 'name', 'note', 'amount']));
    assert.deepEqual(threaded.rows, whole.rows, `cut at byte ${cut}`);
    assert.equal(threaded.error, undefined, `cut at byte ${cut}`);
    joins += threaded.joins;
  }
  // Cuts inside quoted fields after a line feed were found out and joined, not read as records.
  assert.ok(joins > 0);
});

test('with a boundary at every offset, an error in the file is the one error of a whole read, at its line and column', async () => {
  const dir = await tempDir();
  const ragged = join(dir, 'ragged.csv');
  const text = 'id,name\n1,a\n2,"b\nc"\n3,c,extra\n4,d\n';
  await writeFile(ragged, text);
  const unclosed = join(dir, 'unclosed.csv');
  const open = 'id,name\n1,a\n2,"b\nc\n3,c\n';
  await writeFile(unclosed, open);
  for (const [file, content] of [
    [ragged, text],
    [unclosed, open],
  ]) {
    // A schema: inference would meet the error first, in its sample.
    const source = csv(file, { engine: 'fast', schema: z.object({ id: z.int(), name: z.string() }) });
    const whole = await wholeRead(source);
    assert.ok(whole.error !== undefined);
    const size = Buffer.byteLength(content);
    for (let cut = 1; cut < size; cut++) {
      const threaded = await partsRead(source, file, await partsAt(source, file, size, [cut], ['id', 'name']));
      assert.deepEqual(threaded.error, whole.error, `${file} cut at byte ${cut}`);
      // Rows a part handed on before the error are rows before it (the run fails, its output is rolled back).
      for (const row of threaded.rows) assert.ok((row[0] as number) < whole.error!.line!, `${file} cut at byte ${cut}`);
    }
  }
});

test('findCuts takes line feeds that start records, and passes over one inside quotes that looks like a row', async () => {
  const dir = await tempDir();
  const file = join(dir, 'cuts.csv');
  const lines = ['a,b,c'];
  for (let i = 0; i < 2000; i++) lines.push(i % 7 === 3 ? `${i},"x\n${i},y,z\n",w` : `${i},plain,${i * 2}`);
  const text = `${lines.join('\n')}\n`;
  await writeFile(file, text);
  const size = Buffer.byteLength(text);
  const cuts = await findCuts(file, size, 1000, { delimiter: 44, quote: 34, fields: 3 });
  assert.ok(cuts.length > 10);
  // Every cut is a record start of the file as one reader sees it.
  const starts = new Set<number>();
  let offset = 0;
  for (const line of lines) {
    starts.add(offset);
    offset += Buffer.byteLength(line) + 1;
  }
  for (const cut of cuts) assert.ok(starts.has(cut), `cut ${cut} starts a record`);
});
