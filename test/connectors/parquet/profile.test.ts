import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { profileParquet } from '../../../src/connectors/parquet/file-profile.ts';
import { tempDir } from '../../support/fakes.ts';
import { runCli } from '../../support/cli.ts';
import { duckdb, literal, randomBatches, writeParquet } from './support.ts';

const dir = await tempDir('sluice-parquet-profile-');

test('etl profile of a Parquet file shows its schema, row groups and bytes per column from the footer', async () => {
  const path = join(dir, 'ours.parquet');
  const batches = randomBatches(31, [1500]);
  await writeParquet(path, batches, { rowGroupRows: 500 });
  const report = await profileParquet(path);
  assert.equal(report.rows, 1500);
  assert.deepEqual(report.rowGroups.map((group) => group.rows), [500, 500, 500]);
  const int8 = report.columns.find((column) => column.name === 'int8')!;
  assert.deepEqual([int8.parquetType, int8.dtype, int8.nullCount], ['INT32 INT(8, signed)', 'int8', batches[0].columns.int8.nullCount]);
  const [sizes] = await duckdb(`SELECT sum(total_compressed_size) AS compressed FROM parquet_metadata(${literal(path)}) WHERE path_in_schema = 'string'`);
  assert.equal(report.columns.find((column) => column.name === 'string')!.compressedBytes, Number(sizes.compressed));

  const result = await runCli(['profile', path]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /1,500 rows in 3 row groups of 500–500 rows/);
  assert.match(result.stdout, /dictionary +BYTE_ARRAY STRING +dictionary/);
});

test('etl profile says which columns of a DuckDB file read how, and which are refused', async () => {
  const path = join(dir, 'duckdb.parquet');
  await duckdb(`COPY (SELECT 1.5::DECIMAL(4, 1) AS amount, TIME '01:02:03' AS clock, [1, 2] AS list) TO ${literal(path)} (FORMAT parquet)`);
  const report = await profileParquet(path);
  const dtypes = Object.fromEntries(report.columns.map((column) => [column.name, column.dtype]));
  assert.equal(dtypes.amount, 'float64');
  assert.match(dtypes.clock, /^refused: a TIME of day/);
  assert.equal(dtypes.list, 'string (JSON text)');
});
