import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Batch, columnFromValues, Dictionary, pipeline, run, runOrThrow, toCsv, toNdjson } from '../../../src/index.ts';
import { CODE_GENERATION_MODES, withCodeGeneration } from '../../support/codegen.ts';
import { counting, fromBatches, tempDir } from '../../support/fakes.ts';

const dir = await tempDir('sluice-sinks-');
let folders = 0;
async function freshFolder(): Promise<string> {
  const folder = join(dir, `case-${++folders}`);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(folder);
  return folder;
}

function textBatch(values: (string | null)[]): Batch {
  return new Batch({ text: columnFromValues('string', values), n: columnFromValues('uint8', values.map((_, i) => i)) }, values.length);
}

function typedBatch(): Batch {
  const dictionary = new Dictionary();
  return new Batch(
    {
      i: columnFromValues('int16', [-3, 0, null]),
      f: columnFromValues('float64', [1.5, Number.NaN, Number.POSITIVE_INFINITY]),
      b: columnFromValues('bool', [true, false, null]),
      s: columnFromValues('string', ['say "hi"\n', '', null]),
      d: columnFromValues('dictionary', ['x', 'y', 'x'], dictionary),
      t: columnFromValues('timestamp', [new Date('2024-01-02T03:04:05.006Z'), null, new Date(0)]),
      day: columnFromValues('date', [new Date('2024-02-29T00:00:00Z'), new Date(0), null]),
    },
    3,
  );
}

describe('toCsv', () => {
  test('quotes fields holding the delimiter, quotes, line breaks or edge spaces; null is empty, "" is quoted', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.csv');
    const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', ' leading', 'trailing ', '', null, 'ünï'];
    const summary = await runOrThrow(pipeline().from(fromBatches([textBatch(values)])).to(toCsv(path)));
    assert.equal(
      await readFile(path, 'utf8'),
      [
        'text,n',
        'plain,0',
        '"a,b",1',
        '"say ""hi""",2',
        '"two\nlines",3',
        '"cr\rhere",4',
        '" leading",5',
        '"trailing ",6',
        '"",7',
        ',8',
        'ünï,9',
        '',
      ].join('\n'),
    );
    assert.equal(summary.rows.written, values.length);
    assert.equal(summary.sink.location, path);
  });

  test('escapeFormulas: text cells and header names starting = + - @ tab CR get a leading quote; numbers and other text do not', async () => {
    const dictionary = new Dictionary();
    const formulas = ['=1+2', '+SUM(A1)', "-2+3+cmd|' /C calc'!A0", '@SUM(1)', '\tx', '\rx', '＝1', 'plain', 'a=b', '', null, '=a,b', '=say "hi"'];
    const batch = new Batch(
      {
        '=name': columnFromValues('string', formulas),
        kind: columnFromValues('dictionary', formulas.map((_, i) => (i % 2 === 0 ? '=HYPERLINK("x")' : 'ok')), dictionary),
        n: columnFromValues('int16', formulas.map((_, i) => -i)),
      },
      formulas.length,
    );
    const expected = [
      `'=name,kind,n`,
      `'=1+2,"'=HYPERLINK(""x"")",0`,
      `'+SUM(A1),ok,-1`,
      `'-2+3+cmd|' /C calc'!A0,"'=HYPERLINK(""x"")",-2`,
      `'@SUM(1),ok,-3`,
      `'\tx,"'=HYPERLINK(""x"")",-4`,
      `"'\rx",ok,-5`,
      `'＝1,"'=HYPERLINK(""x"")",-6`,
      `plain,ok,-7`,
      `a=b,"'=HYPERLINK(""x"")",-8`,
      `"",ok,-9`,
      `,"'=HYPERLINK(""x"")",-10`,
      `"'=a,b",ok,-11`,
      `"'=say ""hi""","'=HYPERLINK(""x"")",-12`,
      '',
    ].join('\n');
    for (const mode of CODE_GENERATION_MODES) {
      const folder = await freshFolder();
      const escaped = join(folder, 'escaped.csv');
      await withCodeGeneration(mode.enabled, () => runOrThrow(pipeline().from(fromBatches([batch])).to(toCsv(escaped, { escapeFormulas: true }))));
      assert.equal(await readFile(escaped, 'utf8'), expected, mode.label);
      // The default writes the values as they are.
      const verbatim = join(folder, 'verbatim.csv');
      await withCodeGeneration(mode.enabled, () => runOrThrow(pipeline().from(fromBatches([batch])).to(toCsv(verbatim))));
      const lines = (await readFile(verbatim, 'utf8')).split('\n');
      assert.equal(lines[0], '=name,kind,n', mode.label);
      assert.equal(lines[1], '=1+2,"=HYPERLINK(""x"")",0', mode.label);
    }
  });

  test('another delimiter is quoted instead of the comma, and the header can be left out', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.csv');
    await runOrThrow(pipeline().from(fromBatches([textBatch(['a;b', 'a,b'])])).to(toCsv(path, { delimiter: ';', header: false })));
    assert.equal(await readFile(path, 'utf8'), '"a;b";0\na,b;1\n');
  });

  test('typed columns are written as text: ISO timestamps, YYYY-MM-DD dates, true/false', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.csv');
    await runOrThrow(pipeline().from(fromBatches([typedBatch()])).to(toCsv(path)));
    assert.equal(
      await readFile(path, 'utf8'),
      'i,f,b,s,d,t,day\n' +
        '-3,1.5,true,"say ""hi""\n",x,2024-01-02T03:04:05.006Z,2024-02-29\n' +
        '0,NaN,false,"",y,,1970-01-01\n' +
        ',Infinity,,,x,1970-01-01T00:00:00.000Z,\n',
    );
  });

  test('the header is written once, for the first batch', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.csv');
    await runOrThrow(pipeline().from(counting(3, 2)).to(toCsv(path)));
    assert.equal(await readFile(path, 'utf8'), 'n\n0\n1\n2\n3\n4\n5\n');
  });

  test('a .gz output is gzip of the same CSV', async () => {
    const folder = await freshFolder();
    await runOrThrow(pipeline().from(counting(3, 2)).to(toCsv(join(folder, 'out.csv'))));
    await runOrThrow(pipeline().from(counting(3, 2)).to(toCsv(join(folder, 'out.csv.gz'))));
    const gz = await readFile(join(folder, 'out.csv.gz'));
    assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b], 'gzip magic bytes');
    assert.equal(gunzipSync(gz).toString('utf8'), await readFile(join(folder, 'out.csv'), 'utf8'));
  });

  test('rejects a delimiter that cannot be written unambiguously', () => {
    for (const delimiter of ['"', '\n', ';;', '']) {
      assert.throws(() => toCsv('x.csv', { delimiter }), { name: 'SluiceError', code: 'INVALID_OPTION' });
    }
  });
});

describe('output buffers are reused only once written', () => {
  // Many batches of different sizes, some over a megabyte (several chunks), each row saying which batch
  // and row it is: a chunk reused before the stream wrote it shows as a wrong or repeated row.
  const batches = Array.from({ length: 60 }, (_, b) =>
    textBatch(Array.from({ length: b % 10 === 9 ? 30_000 : 1 + ((b * 37) % 500) }, (_, i) => `batch-${b}-row-${i}-${'x'.repeat((b * i) % 40)}`)),
  );
  const expected = batches.flatMap((batch) => Array.from({ length: batch.length }, (_, i) => `${batch.columns.text.get(i)},${i % 256}`));

  for (const name of ['out.csv', 'out.csv.gz']) {
    test(`every row of every batch arrives intact (${name})`, async () => {
      const folder = await freshFolder();
      const path = join(folder, name);
      await runOrThrow(pipeline().from(fromBatches(batches)).to(toCsv(path)));
      const bytes = await readFile(path);
      const text = (name.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
      assert.deepEqual(text.split('\n'), ['text,n', ...expected, '']);
    });
  }
});

describe('toNdjson', () => {
  test('writes one JSON object per row with JSON types; NaN and Infinity become null', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.ndjson');
    await runOrThrow(pipeline().from(fromBatches([typedBatch()])).to(toNdjson(path)));
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.pop(), '', 'ends with a newline');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line)),
      [
        { i: -3, f: 1.5, b: true, s: 'say "hi"\n', d: 'x', t: '2024-01-02T03:04:05.006Z', day: '2024-02-29' },
        { i: 0, f: null, b: false, s: '', d: 'y', t: null, day: '1970-01-01' },
        { i: null, f: null, b: null, s: null, d: 'x', t: '1970-01-01T00:00:00.000Z', day: null },
      ],
    );
  });

  test('a .gz output is gzip of the same NDJSON', async () => {
    const folder = await freshFolder();
    await runOrThrow(pipeline().from(fromBatches([typedBatch()])).to(toNdjson(join(folder, 'a.ndjson'))));
    await runOrThrow(pipeline().from(fromBatches([typedBatch()])).to(toNdjson(join(folder, 'a.ndjson.gz'))));
    assert.equal(gunzipSync(await readFile(join(folder, 'a.ndjson.gz'))).toString(), await readFile(join(folder, 'a.ndjson'), 'utf8'));
  });
});

describe('file outputs are committed only on success', () => {
  for (const [kind, make] of [
    ['csv', (path: string) => toCsv(path)],
    ['ndjson', (path: string) => toNdjson(path)],
    ['csv.gz', (path: string) => toCsv(path)],
  ] as const) {
    test(`${kind}: a run whose stage throws midway leaves no file at the output path and no temporary file`, async () => {
      const folder = await freshFolder();
      const path = join(folder, `out.${kind}`);
      let batchesSeen = 0;
      const summary = await run(
        pipeline()
          .from(counting(10, 5))
          .tap(() => {
            if (++batchesSeen === 4) throw new Error('midway');
          })
          .to(make(path)),
      );
      assert.equal(summary.status, 'failed');
      assert.equal(summary.error?.code, 'STAGE_FAILED');
      assert.equal(summary.rows.written, 0, 'nothing counts as written');
      assert.deepEqual(await readdir(folder), []);
    });
  }

  test('a failed run leaves an existing file at the output path as it was', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.csv');
    await writeFile(path, 'previous\n');
    const summary = await run(
      pipeline()
        .from(counting(3, 2))
        .tap(() => {
          throw new Error('no');
        })
        .to(toCsv(path)),
    );
    assert.equal(summary.status, 'failed');
    assert.equal(await readFile(path, 'utf8'), 'previous\n');
    assert.deepEqual(await readdir(folder), ['out.csv']);
  });

  test('a successful run leaves exactly the output file, replacing an older one', async () => {
    const folder = await freshFolder();
    const path = join(folder, 'out.csv');
    await writeFile(path, 'previous\n');
    await runOrThrow(pipeline().from(counting(1, 2)).to(toCsv(path)));
    assert.equal(await readFile(path, 'utf8'), 'n\n0\n1\n');
    assert.deepEqual(await readdir(folder), ['out.csv']);
  });

  test('a dry run writes nothing but counts the rows', async () => {
    const folder = await freshFolder();
    const summary = await runOrThrow(pipeline().from(counting(2, 3)).to(toCsv(join(folder, 'out.csv'))), { dryRun: true });
    assert.equal(summary.rows.written, 6);
    assert.deepEqual(await readdir(folder), []);
  });
});
