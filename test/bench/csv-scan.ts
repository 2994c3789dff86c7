/**
 * CSV hot-path micro-benchmark (not a test). Generates a seeded ~100 MB orders CSV in memory and reports
 * MB/s for csv-parse (baseline), the byte scanner alone, and the scanner parsing every column into
 * typed arrays with the codec's byte parsers (the note column decoded to JS strings, the worst case for a text column).
 *
 *   npx tsx test/bench/csv-scan.ts [megabytes=100] [chunkKiB=256]
 *
 * Each mode runs in its own process: with two sink classes in one process the scanner's `sink.field`
 * call site turns polymorphic and the second mode measures that instead.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { CsvScanner, type FieldSink } from '../../src/connectors/csv/scanner.ts';
import { ByteDictionary } from '../../src/codec/byte-dictionary.ts';
import { parseBoolean, parseFloat64, parseInteger } from '../../src/codec/byte-numbers.ts';
import { collapseQuotes, decodeUtf8 } from '../../src/codec/byte-text.ts';
import { parseTimestamp } from '../../src/codec/byte-times.ts';
import { random } from '../support/random.ts';

const megabytes = Number(process.argv[2] ?? 100);
const chunkSize = Number(process.argv[3] ?? 256) * 1024;
const mode = process.argv[4];

if (mode === undefined) {
  for (const each of ['scanner', 'columns', 'columns-dictionary', 'csv-parse']) {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), String(megabytes), String(chunkSize / 1024), each];
    execFileSync(process.execPath, args, { stdio: 'inherit' });
  }
  process.exit(0);
}


const STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'];
const COUNTRIES = 'US DE FR GB NL BE ES IT PT SE NO DK FI PL CZ AT CH IE CA MX BR AR JP KR CN IN AU NZ ZA EG'.split(' ');
const NOTES = ['', '', '', 'leave at door', 'gift', '"Call first, then deliver"', '"Fragile, handle with care"', '"He said ""ASAP"", so hurry"', 'back entrance', 'ring twice'];

function generate(targetBytes: number): Buffer {
  const next = random(42);
  const parts: string[] = ['id,customer_id,created_at,status,country,quantity,price,discount,is_gift,note\n'];
  let size = parts[0].length;
  let time = Date.UTC(2023, 0, 1);
  for (let id = 1; size < targetBytes; id++) {
    time += Math.floor(next() * 60_000);
    const line = `${id},${1 + Math.floor(next() * 500_000)},${new Date(time).toISOString()},${STATUSES[Math.floor(next() * 5)]},${COUNTRIES[Math.floor(next() * COUNTRIES.length)]},${1 + Math.floor(next() * 9)},${(next() * 500).toFixed(2)},${next() < 0.7 ? '0' : (next() * 0.3).toFixed(2)},${next() < 0.1 ? 'true' : 'false'},${NOTES[Math.floor(next() * NOTES.length)]}\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

function* chunksOf(input: Buffer): Generator<Buffer> {
  for (let i = 0; i < input.length; i += chunkSize) yield input.subarray(i, i + chunkSize);
}

class CountingSink implements FieldSink {
  fields = 0;
  records = 0;
  field(): void {
    this.fields++;
  }
  endRecord(): void {
    this.records++;
  }
}

const BATCH = 65_536;

/** What the CSV source will do: one typed column per field, a batch of rows at a time. */
class ColumnSink implements FieldSink {
  records = 0;
  invalid = 0;
  private row = -1; // the header is record 0
  readonly id = new Int32Array(BATCH);
  readonly customerId = new Int32Array(BATCH);
  readonly createdAt = new Float64Array(BATCH);
  readonly status = new Uint8Array(BATCH);
  readonly country = new Uint8Array(BATCH);
  readonly quantity = new Uint8Array(BATCH);
  readonly price = new Float64Array(BATCH);
  readonly discount = new Float64Array(BATCH);
  readonly isGift = new Uint8Array(BATCH);
  readonly note: (string | null)[] = new Array(BATCH).fill(null);
  /** Dictionary-encode the note too, as inference would for a column with this few distinct values. */
  noteAsDictionary = false;
  readonly noteCodes = new Int32Array(BATCH);
  readonly noteDictionary = new ByteDictionary();
  readonly noteValues: string[] = [];
  readonly statusDictionary = new ByteDictionary();
  readonly statusValues: string[] = [];
  readonly countryDictionary = new ByteDictionary();
  readonly countryValues: string[] = [];
  private scratch = new Uint8Array(1024);

  field(index: number, buf: Uint8Array, start: number, end: number, _quoted: boolean, escapedQuotes: boolean): void {
    const row = this.row;
    if (row < 0) return;
    let value: number;
    switch (index) {
      case 0:
        value = this.id[row] = parseInteger(buf, start, end);
        break;
      case 1:
        value = this.customerId[row] = parseInteger(buf, start, end);
        break;
      case 2:
        value = this.createdAt[row] = parseTimestamp(buf, start, end);
        break;
      case 3:
        value = this.status[row] = encode(this.statusDictionary, this.statusValues, buf, start, end);
        break;
      case 4:
        value = this.country[row] = encode(this.countryDictionary, this.countryValues, buf, start, end);
        break;
      case 5:
        value = this.quantity[row] = parseInteger(buf, start, end);
        break;
      case 6:
        value = this.price[row] = parseFloat64(buf, start, end);
        break;
      case 7:
        value = this.discount[row] = parseFloat64(buf, start, end);
        break;
      case 8:
        value = this.isGift[row] = parseBoolean(buf, start, end);
        break;
      default:
        if (this.noteAsDictionary && !escapedQuotes) this.noteCodes[row] = start === end ? -1 : encode(this.noteDictionary, this.noteValues, buf, start, end);
        else if (start === end) this.note[row] = null;
        else if (escapedQuotes) this.note[row] = decodeUtf8(this.scratch, 0, collapseQuotes(buf, start, end, this.scratch));
        else this.note[row] = decodeUtf8(buf, start, end);
        return;
    }
    if (value !== value) this.invalid++;
  }

  endRecord(): void {
    this.records++;
    if (++this.row === BATCH) this.row = 0; // a real source would emit the batch here
  }
}

function encode(dictionary: ByteDictionary, values: string[], buf: Uint8Array, start: number, end: number): number {
  const code = dictionary.lookup(buf, start, end);
  if (code >= 0) return code;
  values.push(decodeUtf8(buf, start, end));
  dictionary.add(buf, start, end, values.length - 1);
  return values.length - 1;
}

/**
 * Best of 5 by wall time, and by this process's CPU time: on a shared machine the CPU figure is the
 * steadier one (it also counts GC helper threads, so it is not flattering).
 */
function measure(name: string, bytes: number, run: () => number | Promise<number>): Promise<void> {
  return (async () => {
    const wall: number[] = [];
    const cpu: number[] = [];
    let records = 0;
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      const cpuStarted = process.cpuUsage();
      records = await run();
      const used = process.cpuUsage(cpuStarted);
      wall.push(performance.now() - started);
      cpu.push((used.user + used.system) / 1000);
    }
    const rate = (ms: number) => ((bytes / 1e6 / ms) * 1000).toFixed(0).padStart(5);
    console.log(`${name.padEnd(36)} ${rate(Math.min(...wall))} MB/s wall, ${rate(Math.min(...cpu))} MB/s cpu  (${records} records)`);
  })();
}

const input = generate(megabytes * 1e6);
if (mode === 'scanner') console.log(`input: ${(input.length / 1e6).toFixed(1)} MB, chunks of ${chunkSize / 1024} KiB, node ${process.version}`);

if (mode === 'scanner') await measure('scanner only (count fields)', input.length, () => {
  const sink = new CountingSink();
  const scanner = new CsvScanner(sink);
  for (const chunk of chunksOf(input)) scanner.push(chunk);
  scanner.end();
  return sink.records;
});

const columnsLabel = mode === 'columns' ? 'scanner + typed columns, note string' : 'scanner + typed columns, note dict';
if (mode === 'columns' || mode === 'columns-dictionary') await measure(columnsLabel, input.length, () => {
  const sink = new ColumnSink();
  sink.noteAsDictionary = mode === 'columns-dictionary';
  const scanner = new CsvScanner(sink);
  for (const chunk of chunksOf(input)) scanner.push(chunk);
  scanner.end();
  if (sink.invalid !== 0) throw new Error(`${sink.invalid} values did not parse`);
  return sink.records;
});

if (mode === 'csv-parse') await measure('csv-parse stream to arrays', input.length, async () => {
  let records = 0;
  for await (const _record of Readable.from(chunksOf(input)).pipe(parse())) records++;
  return records;
});
