import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parquet, pipeline, runOrThrow } from '../../../src/index.ts';
import { collect, tempDir } from '../../support/fakes.ts';
import { duckdb, literal, randomBatches, writeParquet } from './support.ts';

const dir = await tempDir('sluice-parquet-duckdb-');

describe('parquet and DuckDB', () => {
  test('DuckDB reads what Sluice writes: row count, sums, null counts and types', async () => {
    const batches = randomBatches(21, [700, 1300, 999]);
    const path = join(dir, 'ours.parquet');
    await writeParquet(path, batches, { rowGroupRows: 1000 });
    const rows = batches.flatMap((batch) => batch.toObjects());
    const nulls = (name: string) => rows.filter((row) => row[name] === null).length;
    const sum = (name: string) => rows.reduce((total, row) => total + (row[name] ?? 0), 0);

    const [counts] = await duckdb(
      `SELECT count(*) AS n, count(int8) AS int8, count(uint32) AS uint32, count(string) AS string, count(dictionary) AS dictionary, count(timestamp) AS timestamp,
              sum(int8) AS s_int8, sum(int16) AS s_int16, sum(uint8) AS s_uint8, sum(uint16) AS s_uint16, sum(uint32) AS s_uint32, sum(int32) AS s_int32,
              sum(epoch_ms(timestamp)) AS s_timestamp, sum(date - DATE '1970-01-01') AS s_date, count(*) FILTER (WHERE "bool") AS trues, sum("full") AS s_full,
              count(nothing) AS nothing
       FROM read_parquet(${literal(path)})`,
    );
    assert.equal(Number(counts.n), rows.length);
    for (const name of ['int8', 'uint32', 'string', 'dictionary', 'timestamp']) assert.equal(Number(counts[name]), rows.length - nulls(name), name);
    for (const name of ['int8', 'int16', 'uint8', 'uint16', 'uint32', 'int32', 'full']) assert.equal(Number(counts[`s_${name}`]), sum(name), name);
    assert.equal(Number(counts.s_timestamp), rows.reduce((total, row) => total + (row.timestamp?.getTime() ?? 0), 0));
    assert.equal(Number(counts.s_date), rows.reduce((total, row) => total + (row.date === null ? 0 : row.date.getTime() / 86_400_000), 0));
    assert.equal(Number(counts.trues), rows.filter((row) => row.bool === true).length);
    assert.equal(Number(counts.nothing), 0);

    const types = Object.fromEntries((await duckdb(`DESCRIBE SELECT * FROM read_parquet(${literal(path)})`)).map((row) => [row.column_name, row.column_type]));
    assert.deepEqual(types, {
      bool: 'BOOLEAN',
      int8: 'TINYINT',
      int16: 'SMALLINT',
      int32: 'INTEGER',
      uint8: 'UTINYINT',
      uint16: 'USMALLINT',
      uint32: 'BIGINT',
      float32: 'FLOAT',
      float64: 'DOUBLE',
      timestamp: 'TIMESTAMP WITH TIME ZONE',
      date: 'DATE',
      string: 'VARCHAR',
      dictionary: 'VARCHAR',
      nothing: 'INTEGER',
      full: 'DOUBLE',
    });
  });

  test('DuckDB finds our statistics: min, max and null count per column chunk', async () => {
    const batches = randomBatches(22, [500]);
    const path = join(dir, 'stats.parquet');
    await writeParquet(path, batches);
    const rows = batches[0].toObjects();
    const stats = Object.fromEntries(
      (await duckdb(`SELECT path_in_schema AS name, stats_min_value AS min, stats_max_value AS max, stats_null_count AS nulls FROM parquet_metadata(${literal(path)})`)).map((row) => [row.name, row]),
    );
    const present = (name: string) => rows.map((row) => row[name]).filter((value) => value !== null);
    assert.equal(Number(stats.int16.min), Math.min(...present('int16')));
    assert.equal(Number(stats.uint32.max), Math.max(...present('uint32')));
    assert.equal(Number(stats.int8.nulls), rows.length - present('int8').length);
    // Strings in UTF-8 byte order: '𝄞 clef' (U+1D11E) sorts after '\uE000 private', unlike JS's `<`.
    const strings = present('dictionary') as string[];
    const byBytes = [...strings].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.equal(stats.dictionary.min, byBytes[0]);
    assert.equal(stats.dictionary.max, byBytes.at(-1));
    // Plain strings too, where pages of ASCII only are ranged with JS's comparison and the rest are not.
    const plain = (present('string') as string[]).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.equal(stats.string.min, plain[0]);
    assert.equal(stats.string.max, plain.at(-1));
    assert.equal(stats.nothing.min, null);
  });

  for (const compression of ['zstd', 'snappy', 'gzip', 'uncompressed']) {
    test(`Sluice reads what DuckDB writes (${compression}): sums, null counts, dtypes, dictionary pages as dictionary columns, unique strings as strings`, async () => {
      const path = join(dir, `duckdb-${compression}.parquet`);
      await duckdb(
        `COPY (SELECT i::INTEGER AS id, CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 100)::TINYINT END AS small, i * 1.5 AS price,
                      ['red', 'green', 'blue'][i % 3 + 1] AS colour, CASE WHEN i % 7 = 0 THEN NULL ELSE 'name ' || i END AS name,
                      TIMESTAMP '2024-01-01' + INTERVAL (i) SECOND AS "at", DATE '2024-01-01' + (i % 400)::INTEGER AS "day", i % 2 = 0 AS even,
                      i::BIGINT * 1000 AS big
               FROM range(25000) t(i))
         TO ${literal(path)} (FORMAT parquet, COMPRESSION ${compression}, ROW_GROUP_SIZE 10000)`,
      );
      const sink = collect();
      const summary = await runOrThrow(pipeline().from(parquet(path)).to(sink));
      // 9 columns × 3 row groups; price (i * 1.5) is a DECIMAL in DuckDB, the one column read by hyparquet.
      assert.equal(summary.source.engineDetail, '89% of 27 column chunks on the fast path');
      const dtypes = Object.fromEntries(sink.batches[0].names.map((name) => [name, sink.batches[0].columns[name].dtype]));
      assert.deepEqual(dtypes, { id: 'int32', small: 'int8', price: 'float64', colour: 'dictionary', name: 'string', at: 'timestamp', day: 'date', even: 'bool', big: 'float64' });
      const rows = sink.rows;
      const [expected] = await duckdb(
        `SELECT count(*) AS n, sum(id) AS id, sum(small) AS small, count(small) AS small_count, sum(price) AS price, count(name) AS names,
                sum(epoch_ms("at")) AS "at", sum("day" - DATE '1970-01-01') AS "day", count(*) FILTER (WHERE colour = 'green') AS green, sum(big) AS big
         FROM read_parquet(${literal(path)})`,
      );
      assert.equal(rows.length, Number(expected.n));
      assert.equal(rows.reduce((t, row) => t + row.id, 0), Number(expected.id));
      assert.equal(rows.reduce((t, row) => t + (row.small ?? 0), 0), Number(expected.small));
      assert.equal(rows.filter((row) => row.small !== null).length, Number(expected.small_count));
      assert.equal(rows.reduce((t, row) => t + row.price, 0), Number(expected.price));
      assert.equal(rows.filter((row) => row.name !== null).length, Number(expected.names));
      assert.equal(rows.reduce((t, row) => t + row.at.getTime(), 0), Number(expected.at));
      assert.equal(rows.reduce((t, row) => t + row.day.getTime() / 86_400_000, 0), Number(expected.day));
      assert.equal(rows.filter((row) => row.colour === 'green').length, Number(expected.green));
      assert.equal(rows.reduce((t, row) => t + row.big, 0), Number(expected.big));
      assert.deepEqual([...new Set(sink.batches.map((batch) => batch.origin.rowGroup))], [0, 1, 2]);
    });
  }

  test('DuckDB types Sluice does not model read as documented: decimals and wide integers as float64, nested values as JSON text', async () => {
    const path = join(dir, 'duckdb-types.parquet');
    await duckdb(
      `COPY (SELECT 12.34::DECIMAL(10, 2) AS amount, 7::UBIGINT AS wide, [1, 2, 3] AS list, {'a': 1, 'b': 'x'} AS struct, NULL::VARCHAR AS empty, 'x'::BLOB AS bytes)
       TO ${literal(path)} (FORMAT parquet)`,
    );
    const sink = collect();
    await runOrThrow(pipeline().from(parquet(path)).to(sink));
    assert.deepEqual(sink.rows, [{ amount: 12.34, wide: 7, list: '[1,2,3]', struct: '{"a":1,"b":"x"}', empty: null, bytes: 'x' }]);
    assert.equal(sink.batches[0].columns.amount.dtype, 'float64');
  });
});
