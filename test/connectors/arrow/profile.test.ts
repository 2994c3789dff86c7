import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Duration, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { profileArrow } from '../../../src/connectors/arrow/file-profile.ts';
import { pipeline, runOrThrow, toArrow } from '../../../src/index.ts';
import { fromBatches, tempDir } from '../../support/fakes.ts';
import { runCli } from '../../support/cli.ts';
import { randomBatches } from '../parquet/support.ts';

const dir = await tempDir('sluice-arrow-profile-');

for (const format of ['file', 'stream'] as const) {
  test(`etl profile of an Arrow ${format} shows its schema, record batches, and bytes, nulls and dictionary per column`, async () => {
    const path = join(dir, format === 'file' ? 'ours.arrow' : 'ours.arrows');
    const batches = randomBatches(41, [700, 300, 500]);
    await runOrThrow(pipeline().from(fromBatches(batches)).to(toArrow(path, { format })));
    const report = await profileArrow(path);
    assert.equal(report.ipc, format);
    assert.equal(report.rows, 1500);
    assert.deepEqual(report.recordBatches.map((batch) => batch.rows), [700, 300, 500]);
    const column = (name: string) => report.columns.find((each) => each.name === name)!;
    const nulls = (name: string) => batches.reduce((sum, batch) => sum + batch.columns[name].nullCount, 0);
    assert.deepEqual([column('int8').arrowType, column('int8').dtype, column('int8').nullCount], ['Int8', 'int8', nulls('int8')]);
    // A float64 column's buffers: 8 bytes a row, and a validity bitmap per record batch that has nulls.
    assert.ok(column('float64').bytes >= 1500 * 8 && column('float64').bytes <= 1500 * 8 + 3 * 128, String(column('float64').bytes));
    assert.equal(column('dictionary').dtype, 'dictionary');
    assert.equal(column('dictionary').dictionary!.values, batches[2].columns.dictionary.dictionary!.size);
    assert.equal(report.recordBatches.reduce((sum, batch) => sum + batch.bytes, 0), report.columns.reduce((sum, each) => sum + each.bytes, 0));

    const result = await runCli(['profile', path]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Arrow IPC ${format}, 1,500 rows in 3 record batches of 300–700 rows`));
    assert.match(result.stdout, /dictionary +Dictionary<Int32, Utf8> +dictionary .* \d+ values, /);
  });
}

test('etl profile of an Arrow file names a column Sluice does not read, and still sizes it', async () => {
  const path = join(dir, 'durations.arrow');
  await writeFile(path, tableToIPC(new Table({ wait: vectorFromArray([1n, 2n, null], new Duration(1)) }), 'file'));
  const report = await profileArrow(path);
  assert.match(report.columns[0].dtype, /^refused: Arrow Duration/);
  assert.equal(report.columns[0].nullCount, 1);
  assert.ok(report.columns[0].bytes >= 3 * 8);
  const result = await runCli(['profile', path, '--json']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).columns[0].name, 'wait');
});
