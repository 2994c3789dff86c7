/**
 * What `etl profile` shows of a Parquet file, from its footer alone: the schema (each column's Parquet
 * type and the dtype Sluice reads it as), the row groups, and per column its compressed and
 * uncompressed bytes, encodings and null count.
 */
import { SluiceError } from '../../core/errors.ts';
import { expandInputs } from '../files/inputs.ts';
import { describeParquetFooter, type ParquetFooter } from './source.ts';

export interface ParquetColumnProfile {
  name: string;
  /** Physical type and annotation, e.g. `INT32 INT(8, signed)`, `BYTE_ARRAY STRING`. */
  parquetType: string;
  /** What `parquet()` reads it as, or why it cannot. */
  dtype: string;
  compressedBytes: number;
  uncompressedBytes: number;
  nullCount: number | undefined;
  encodings: string[];
  codec: string;
}

export interface ParquetProfile {
  file: string;
  format: 'parquet';
  rows: number;
  createdBy?: string;
  rowGroups: { rows: number; compressedBytes: number; uncompressedBytes: number }[];
  columns: ParquetColumnProfile[];
}

export async function profileParquet(path: string): Promise<ParquetProfile> {
  const [file] = await expandInputs(path);
  const footer: ParquetFooter = await describeParquetFooter(file);
  const columns = footer.fields.map((field) => {
    const chunks = footer.metadata.row_groups.map((group) => group.columns.find((chunk) => chunk.meta_data?.path_in_schema[0] === field.name)?.meta_data);
    const sum = (pick: (meta: NonNullable<(typeof chunks)[number]>) => bigint | number | undefined) => chunks.reduce((total, meta) => total + (meta === undefined ? 0 : Number(pick(meta) ?? 0)), 0);
    const known = chunks.every((meta) => meta?.statistics?.null_count !== undefined);
    const logical = field.logical_type === undefined ? field.converted_type : field.logical_type.type === 'INTEGER' ? `INT(${field.logical_type.bitWidth}, ${field.logical_type.isSigned ? 'signed' : 'unsigned'})` : field.logical_type.type;
    return {
      name: field.name,
      parquetType: field.type === undefined ? 'group (nested)' : `${field.type}${logical === undefined ? '' : ` ${logical}`}`,
      dtype: field.dtype,
      compressedBytes: sum((meta) => meta.total_compressed_size),
      uncompressedBytes: sum((meta) => meta.total_uncompressed_size),
      nullCount: known ? sum((meta) => meta.statistics?.null_count) : undefined,
      encodings: [...new Set(chunks.flatMap((meta) => meta?.encodings ?? []))],
      codec: [...new Set(chunks.map((meta) => meta?.codec ?? '?'))].join(', '),
    };
  });
  if (columns.length === 0) throw new SluiceError('INPUT_READ', `${file} has no columns.`, { file });
  return {
    file,
    format: 'parquet',
    rows: Number(footer.metadata.num_rows),
    createdBy: footer.metadata.created_by,
    rowGroups: footer.metadata.row_groups.map((group) => ({
      rows: Number(group.num_rows),
      compressedBytes: group.columns.reduce((total, chunk) => total + Number(chunk.meta_data?.total_compressed_size ?? 0), 0),
      uncompressedBytes: Number(group.total_byte_size),
    })),
    columns,
  };
}
