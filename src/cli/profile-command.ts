import { formatNumber } from '../core/format-number.ts';
import { SluiceError } from '../core/errors.ts';
import { formatBytes } from '../core/bytes.ts';
import { type MemoryEstimate, profile, type ProfileReport } from '../profile/profile.ts';
import { formatParquetProfile } from './parquet-profile.ts';
import { profileParquet } from '../connectors/parquet/file-profile.ts';
import { EXIT } from './exit-codes.ts';
import { byteSizeFlag, characterFlag, choice, type CommandIO, delimiterFlag, parseFlags, wholeNumber } from './args.ts';

export const PROFILE_HELP = `Usage: etl profile <file or glob> [options]

Reads a sample of a CSV or NDJSON file (by extension; .gz is gunzipped) and prints, per column, the
inferred dtype, bytes per row as JS values and as typed columns, null ratio and cardinality; the
inferred schema as zod code; and an estimate of a run's peak memory with the batch size for --memory.
A .parquet file is described from its footer: its schema (and the dtype each column reads as), its
row groups, and per column the compressed and uncompressed bytes, encodings and null count. An Arrow
IPC file or stream (.arrow, .arrows, .feather) likewise: its schema, its record batches, and per
column the bytes of its buffers, its null count and its dictionary.

Options:
  --memory <size>     Budget to suggest a batch size for (default 256MB).
  --batch-rows <n>    Estimate a run at this many rows per batch (default: what the run picks).
  --sample <n>        Rows to sample from the first file (default 10000).
  --delimiter <c>     CSV field delimiter (default ,): one character, or tab (also \\t), comma,
                      semicolon, pipe, space.
  --quote <c>         CSV quote character (default ").
  --encoding <name>   CSV encoding: utf8 (default) or latin1.
  --relax-quotes      CSV: a quote inside an unquoted field is kept as text (csv()'s relaxQuotes).
  --escape <c>        CSV escape character inside quotes (default: the quote, doubled).
  --comment <c>       CSV: lines starting with this character are skipped.
  --json              The report as JSON.
  -h, --help          This help.`;

export async function profileCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags('etl profile', argv, {
    memory: { type: 'string' },
    'batch-rows': { type: 'string' },
    sample: { type: 'string' },
    delimiter: { type: 'string' },
    quote: { type: 'string' },
    encoding: { type: 'string' },
    'relax-quotes': { type: 'boolean' },
    escape: { type: 'string' },
    comment: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(`${PROFILE_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new SluiceError('INVALID_OPTION', `etl profile takes one file or glob (quote a glob); got ${positionals.length === 0 ? 'none' : positionals.join(' ')}. See etl profile --help.`);
  }
  if (/\.parquet$/i.test(positionals[0])) {
    const report = await profileParquet(positionals[0]);
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatParquetProfile(report)}\n`);
    return EXIT.ok;
  }
  if (/\.(arrow|arrows|feather)$/i.test(positionals[0])) {
    // apache-arrow is loaded only for this, as arrow() does.
    const report = await (await import('../connectors/arrow/file-profile.ts')).profileArrow(positionals[0]);
    io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${(await import('./arrow-profile.ts')).formatArrowProfile(report)}\n`);
    return EXIT.ok;
  }
  const report = await profile(positionals[0], {
    memory: byteSizeFlag(values.memory, '--memory'),
    batchRows: wholeNumber(values['batch-rows'], '--batch-rows'),
    sample: wholeNumber(values.sample, '--sample'),
    delimiter: delimiterFlag(values.delimiter, '--delimiter'),
    quote: characterFlag(values.quote, '--quote'),
    encoding: choice(values.encoding, '--encoding', ['utf8', 'latin1']),
    relaxQuotes: values['relax-quotes'],
    escape: characterFlag(values.escape, '--escape'),
    comment: characterFlag(values.comment, '--comment'),
    signal: io.signal,
  });
  io.stdout.write(values.json ? `${JSON.stringify(report)}\n` : `${formatProfile(report)}\n`);
  return EXIT.ok;
}


export function formatProfile(report: ProfileReport): string {
  const bytes = (value: number) => value.toFixed(1).padStart(8);
  const width = Math.max(6, ...report.columns.map((column) => column.name.length));
  const lines = [
    `${report.files.length === 1 ? report.files[0] : `${report.files[0]} (+${report.files.length - 1} more files)`}: ${report.format}, ${formatBytes(report.totalBytes)}, ${formatNumber(report.sampleRows)} rows sampled`,
    '',
    `  ${'column'.padEnd(width)}  ${'dtype'.padEnd(10)}  ${'JS B/row'.padStart(8)}  ${'typed B/row'.padStart(11)}  ${'nulls'.padStart(6)}  cardinality`,
    ...report.columns.map(
      (column) =>
        `  ${column.name.padEnd(width)}  ${column.dtype.padEnd(10)}  ${bytes(column.jsBytesPerRow)}  ${bytes(column.typedBytesPerRow).padStart(11)}  ${`${(column.nullRatio * 100).toFixed(1)}%`.padStart(6)}  ${formatNumber(column.distinct)}${column.distinctCapped ? '+' : ''}`,
    ),
    `  ${'(row)'.padEnd(width)}  ${''.padEnd(10)}  ${bytes(report.objectOverheadPerRow)}  ${bytes(4).padStart(11)}          object overhead / line number`,
    `  ${'total'.padEnd(width)}  ${''.padEnd(10)}  ${bytes(report.jsBytesPerRow)}  ${bytes(report.typedBytesPerRow).padStart(11)}          ${(report.jsBytesPerRow / report.typedBytesPerRow).toFixed(1)}× smaller as typed columns`,
    '',
    report.zod,
    '',
  ];
  if (report.naiveBytesForInput !== undefined) {
    lines.push(`Read whole as JS objects (fs.readFile + csv-parse/sync), this input would take about ${formatBytes(report.naiveBytesForInput)}.`);
  }
  lines.push(`Estimated run at ${formatNumber(report.estimate.batchRows)} rows per batch:`, ...formatEstimate(report.estimate));
  if (report.estimate.batchRows !== report.suggestion.batchRows) {
    lines.push(`With --memory ${formatBytes(report.memory)} a run picks ${formatNumber(report.suggestion.batchRows)} rows per batch:`, ...formatEstimate(report.suggestion.estimate));
  } else {
    lines.push(`This is the batch size a run picks for --memory ${formatBytes(report.memory)}.`);
  }
  if (report.suggestion.estimate.peakAboveBaseline > report.memory) {
    lines.push(`Note: the estimated peak is above the budget (the runtime alone takes ${formatBytes(report.suggestion.estimate.runtimeBytes)}); expect memory-pressure pauses, or raise --memory.`);
  }
  return lines.join('\n');
}

function formatEstimate(estimate: MemoryEstimate): string[] {
  return [
    `  batch          ${formatBytes(estimate.bytesPerBatch)} (${estimate.bytesPerRow.toFixed(1)} B/row)`,
    `  peak reserved  ${formatBytes(estimate.peakReserved)} (one batch reserved at a time in a straight pipeline)`,
    `  working        ${formatBytes(estimate.workingBytes)} (the batch being built, one stage copy)`,
    `  dictionaries   ${formatBytes(estimate.dictionaryBytes)}`,
    `  runtime        ${formatBytes(estimate.runtimeBytes)} (I/O buffers, V8 young generation)`,
    `  peak RSS       ~${formatBytes(estimate.peakAboveBaseline)} above the idle process`,
  ];
}

