import { formatBytes } from '../core/bytes.ts';
import type { ArrowProfile } from '../connectors/arrow/file-profile.ts';

const number = new Intl.NumberFormat('en-US');

/** `etl profile file.arrow` for people: schema, record batches, bytes per column. */
export function formatArrowProfile(report: ArrowProfile): string {
  const width = Math.max(6, ...report.columns.map((column) => column.name.length));
  const typeWidth = Math.max(10, ...report.columns.map((column) => column.arrowType.length));
  const dtypeWidth = Math.max(10, ...report.columns.map((column) => column.dtype.length));
  const batches = report.recordBatches;
  const rowsPerBatch = batches.map((batch) => batch.rows);
  const total = report.columns.reduce((sum, column) => sum + column.bytes, 0);
  return [
    `${report.file}: Arrow IPC ${report.ipc}, ${number.format(report.rows)} rows in ${batches.length} record batch${batches.length === 1 ? '' : 'es'}` +
      (batches.length > 0 ? ` of ${number.format(Math.min(...rowsPerBatch))}–${number.format(Math.max(...rowsPerBatch))} rows` : ''),
    '',
    `  ${'column'.padEnd(width)}  ${'arrow type'.padEnd(typeWidth)}  ${'reads as'.padEnd(dtypeWidth)}  ${'bytes'.padStart(10)}  ${'nulls'.padStart(9)}  dictionary`,
    ...report.columns.map(
      (column) =>
        `  ${column.name.padEnd(width)}  ${column.arrowType.padEnd(typeWidth)}  ${column.dtype.padEnd(dtypeWidth)}  ${formatBytes(column.bytes).padStart(10)}  ${number.format(column.nullCount).padStart(9)}  ${column.dictionary === undefined ? '' : `${number.format(column.dictionary.values)} values, ${formatBytes(column.dictionary.bytes)}`}`,
    ),
    `  ${'total'.padEnd(width)}  ${''.padEnd(typeWidth)}  ${''.padEnd(dtypeWidth)}  ${formatBytes(total).padStart(10)}`,
  ].join('\n');
}
