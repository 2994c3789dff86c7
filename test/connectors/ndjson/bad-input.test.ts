/**
 * Hostile NDJSON: a line far longer than maxRecordBytes (plain, or a gzip bomb of one line) fails with
 * NDJSON_RECORD_TOO_LARGE once the read passes the limit, with the process's peak RSS bounded by the
 * limit rather than the line; invalid UTF-8 is an error with its byte offset, line and column, as in CSV,
 * not a U+FFFD in the data.
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { createGzip } from 'node:zlib';
import { ndjson, pipeline, run } from '../../../src/index.ts';
import { PRINT_PEAK_RSS, peakRssOf, runCli } from '../../support/cli.ts';
import { collect, tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-ndjson-bad-');
const MB = 1024 * 1024;

/** Writes `{"a":"xxx…` of `bytes` bytes and no line end, gzipped: a few hundred kilobytes on disk. */
async function gzipBomb(path: string, bytes: number): Promise<void> {
  const gzip = createGzip();
  const out = gzip.pipe(createWriteStream(path));
  const piece = Buffer.alloc(MB, 'x');
  gzip.write('{"a":"');
  for (let written = 0; written < bytes; written += piece.length) {
    if (!gzip.write(piece)) await once(gzip, 'drain');
  }
  gzip.end();
  await once(out, 'close');
}

describe('ndjson: maxRecordBytes is enforced while a line is read', () => {
  test('a line past maxRecordBytes fails with NDJSON_RECORD_TOO_LARGE at its line, with the lines before it read', async () => {
    const path = join(dir, 'long.ndjson');
    await writeFile(path, `{"a":1}\n{"a":2}\n{"a":"${'y'.repeat(3 * MB)}"}\n{"a":4}\n`);
    const sink = collect();
    const summary = await run(pipeline().from(ndjson(path, { maxRecordBytes: MB })).to(sink));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'NDJSON_RECORD_TOO_LARGE', summary.error?.message);
    assert.equal(summary.error?.file, path);
    assert.equal(summary.error?.line, 3);
    assert.match(summary.error!.message, /maxRecordBytes \(1048576 bytes\)/);
  });

  test('a line of exactly maxRecordBytes is read; one byte more is refused, also with multi-byte characters', async () => {
    const limit = 4096;
    for (const char of ['z', 'é', '€']) {
      const value = char.repeat(Math.floor((limit - 8) / Buffer.byteLength(char)));
      const line = `{"a":"${value}"}`;
      const padded = line.slice(0, 6) + 'q'.repeat(limit - Buffer.byteLength(line)) + line.slice(6);
      assert.equal(Buffer.byteLength(padded), limit);
      const ok = join(dir, `exact-${char}.ndjson`);
      await writeFile(ok, `${padded}\n`);
      const read = await run(pipeline().from(ndjson(ok, { maxRecordBytes: limit })).to(collect()));
      assert.equal(read.status, 'succeeded', `${char}: ${read.error?.message}`);
      const over = join(dir, `over-${char}.ndjson`);
      await writeFile(over, `{"a":0}\n${padded.slice(0, 6)}q${padded.slice(6)}\n`);
      const refused = await run(pipeline().from(ndjson(over, { maxRecordBytes: limit })).to(collect()));
      assert.equal(refused.error?.code, 'NDJSON_RECORD_TOO_LARGE', char);
      assert.equal(refused.error?.line, 2, char);
    }
  });

  test('a gzip bomb of one 400 MB line under --memory 64MB: NDJSON_RECORD_TOO_LARGE, no RangeError, peak RSS bounded', async () => {
    const bomb = join(dir, 'bomb.ndjson.gz');
    await gzipBomb(bomb, 400 * MB);
    const file = join(dir, 'bomb.ts');
    const index = new URL('../../../src/index.ts', import.meta.url).pathname;
    await writeFile(
      file,
      `${PRINT_PEAK_RSS}import { ndjson, pipeline, toNdjson } from ${JSON.stringify(index)};
export default pipeline({ name: 'bomb' }).from(ndjson(${JSON.stringify(bomb)})).to(toNdjson(${JSON.stringify(join(dir, 'bomb-out.ndjson'))}));
`,
    );
    const result = await runCli(['run', file, '--memory', '64MB'], { timeoutMs: 120_000 });
    assert.equal(result.code, 1, result.stderr);
    const output = result.stdout + result.stderr;
    assert.match(output, /NDJSON_RECORD_TOO_LARGE/);
    assert.doesNotMatch(output, /RangeError|    at /);
    const hwm = peakRssOf(result);
    // Before: 622 MB and a RangeError. The line is held as raw chunks up to the 64 MB limit, on top of the runtime.
    assert.ok(hwm < 300 * MB, `peak RSS ${(hwm / MB).toFixed(0)} MB`);
  });
});

describe('ndjson: invalid UTF-8 is reported, as in CSV', () => {
  test('a byte that is not UTF-8 fails with NDJSON_INVALID_UTF8, its byte offset, line and column', async () => {
    const path = join(dir, 'latin1.ndjson');
    await writeFile(path, Buffer.concat([Buffer.from('{"a":"ok"}\n{"a":"b'), Buffer.from([0xff]), Buffer.from('c"}\n')]));
    const summary = await run(pipeline().from(ndjson(path)).to(collect()));
    assert.equal(summary.status, 'failed');
    assert.equal(summary.error?.code, 'NDJSON_INVALID_UTF8', summary.error?.message);
    assert.equal(summary.error?.byteOffset, 18);
    assert.equal(summary.error?.line, 2);
    assert.equal(summary.error?.column, 8);
    assert.match(summary.error!.message, new RegExp(`${path}:2:8: invalid UTF-8 at byte 18`));
  });

  test('past the first chunks of the file, at the right offset and line', async () => {
    const path = join(dir, 'late.ndjson');
    const good = '{"a":"fine"}\n'.repeat(200_000);
    await writeFile(path, Buffer.concat([Buffer.from(good), Buffer.from('{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]));
    const summary = await run(pipeline().from(ndjson(path)).to(collect()));
    assert.equal(summary.error?.code, 'NDJSON_INVALID_UTF8');
    assert.equal(summary.error?.byteOffset, good.length + 6);
    assert.equal(summary.error?.line, 200_001);
  });

  test('a byte-order mark at the start of the file is passed over; one at the start of a later line is refused', async () => {
    const start = join(dir, 'bom.ndjson');
    await writeFile(start, '\uFEFF{"a":1}\n{"a":2}\n');
    const sink = collect();
    const summary = await run(pipeline().from(ndjson(start)).to(sink));
    assert.equal(summary.status, 'succeeded', summary.error?.message);
    assert.deepEqual(sink.rows, [{ a: 1 }, { a: 2 }]);
    const joined = join(dir, 'joined.ndjson');
    await writeFile(joined, '{"a":1}\n\uFEFF{"a":2}\n');
    const refused = await run(pipeline().from(ndjson(joined)).to(collect()));
    assert.equal(refused.error?.code, 'NDJSON_BOM', refused.error?.message);
    assert.equal(refused.error?.line, 2);
  });
});
