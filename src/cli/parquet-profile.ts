import { formatNumber } from '../core/format-number.ts';
import { formatBytes } from '../core/bytes.ts';
import type { ParquetProfile } from '../connectors/parquet/file-profile.ts';


/** `etl profile file.parquet` for people: schema, row groups, bytes per column. */
export function formatParquetProfile(report: ParquetProfile): string {
  const width = Math.max(6, ...report.columns.map((column) => column.name.length));
  const typeWidth = Math.max(12, ...report.columns.map((column) => column.parquetType.length));
  const dtypeWidth = Math.max(10, ...report.columns.map((column) => column.dtype.length));
  const compressed = report.columns.reduce((total, column) => total + column.compressedBytes, 0);
  const uncompressed = report.columns.reduce((total, column) => total + column.uncompressedBytes, 0);
  const groups = report.rowGroups;
  const rowsPerGroup = groups.map((group) => group.rows);
  return [
    `${report.file}: parquet${report.createdBy ? ` (written by ${report.createdBy})` : ''}, ${formatNumber(report.rows)} rows in ${groups.length} row group${groups.length === 1 ? '' : 's'}` +
      (groups.length > 0 ? ` of ${formatNumber(Math.min(...rowsPerGroup))}–${formatNumber(Math.max(...rowsPerGroup))} rows` : ''),
    '',
    `  ${'column'.padEnd(width)}  ${'parquet type'.padEnd(typeWidth)}  ${'reads as'.padEnd(dtypeWidth)}  ${'compressed'.padStart(10)}  ${'uncompressed'.padStart(12)}  ${'nulls'.padStart(9)}  encodings (codec)`,
    ...report.columns.map(
      (column) =>
        `  ${column.name.padEnd(width)}  ${column.parquetType.padEnd(typeWidth)}  ${column.dtype.padEnd(dtypeWidth)}  ${formatBytes(column.compressedBytes).padStart(10)}  ${formatBytes(column.uncompressedBytes).padStart(12)}  ${(column.nullCount === undefined ? '?' : formatNumber(column.nullCount)).padStart(9)}  ${column.encodings.join(', ')} (${column.codec})`,
    ),
    `  ${'total'.padEnd(width)}  ${''.padEnd(typeWidth)}  ${''.padEnd(dtypeWidth)}  ${formatBytes(compressed).padStart(10)}  ${formatBytes(uncompressed).padStart(12)}`,
  ].join('\n');
}
