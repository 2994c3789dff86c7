/**
 * Cursor pages (rows as arrays of the server's text) → batches: column by column through the shared
 * column builder when the types come from the result, row by row through the schema's RowDecoder when
 * there is a schema. Rows that do not fit are rejected (rejects.ts) and the batch goes on without them.
 */
import { Batch, type BatchOrigin, columnRecord } from '../../batch/batch.ts';
import { ColumnBuilder } from '../../batch/builder.ts';
import type { Column } from '../../batch/column.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import { RowDecoder } from '../../schema/decode.ts';
import type { ColumnPlan } from '../../schema/plan.ts';
import type { TextRow } from './driver.ts';
import { type Field, Kind, positionsOf } from './fields.ts';
import { rejectUnparsed, rejectViolation } from './rejects.ts';
import { parsePgDate, parsePgTimestamp } from './text-values.ts';

/** A page of cursor rows → a batch (of fewer rows when some were rejected). */
export type PageDecoder = (rows: TextRow[], firstRow: number) => Promise<Batch>;

/** The decoder of a cursor's pages: by the fields' types, or by the schema's plans when given. */
export function pageDecoder(fields: Field[], plans: ColumnPlan[] | undefined, sql: string, context: SourceContext): PageDecoder {
  if (plans === undefined) {
    return async (rows, firstRow) => {
      const { batch, bad } = decodeTextRows(fields, rows, { query: sql, row: firstRow });
      if (bad === null) return batch;
      return rejectUnparsed(batch, bad, fields, (i, c) => rows[i][c], context, sql, firstRow);
    };
  }
  const positions = positionsOf(plans, fields);
  const values: unknown[] = new Array(plans.length);
  const widen = { warn: context.warn };
  return async (rows, firstRow) => {
    const decoder = new RowDecoder(plans, rows.length, widen);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      for (let c = 0; c < positions.length; c++) values[c] = row[positions[c]];
      const violation = decoder.append(values, i);
      if (violation !== null) await rejectViolation(context, sql, firstRow + i, violation);
    }
    const batch = decoder.flush({ query: sql, row: firstRow });
    // Row numbers of a query are in origin.row; `lines` are for sources with lines.
    return new Batch(batch.columns, batch.length, batch.origin);
  };
}

/**
 * Cursor rows → a batch, column by column so each loop handles one type. A value that does not parse
 * marks its row in `bad` (1 + column position) for the caller to reject.
 *
 * The loops store into the builder's arrays themselves (`values[builder.length++]`) rather than through
 * `appendNumber`/`appendString`: each loop then has a store site of its own, which V8 compiles for one
 * kind of array, where the builder's one site sees every column's kind (measured: ~10% of the cursor
 * path's CPU on the bench's orders).
 */
export function decodeTextRows(fields: readonly Field[], rows: TextRow[], origin: BatchOrigin): { batch: Batch; bad: Uint8Array | null } {
  const length = rows.length;
  const columns = columnRecord();
  let bad: Uint8Array | null = null;
  for (let c = 0; c < fields.length; c++) {
    const field = fields[c];
    const builder = new ColumnBuilder(field.dtype, length);
    switch (field.kind) {
      case Kind.Text: {
        const strings = builder.strings!;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) builder.appendNull();
          else strings[builder.length++] = value;
        }
        break;
      }
      case Kind.Integer:
      case Kind.Float: {
        const values = builder.values;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) builder.appendNull();
          else values[builder.length++] = +value;
        }
        break;
      }
      case Kind.Bool: {
        const values = builder.values;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) builder.appendNull();
          else values[builder.length++] = value === 't' ? 1 : 0;
        }
        break;
      }
      case Kind.Date:
      case Kind.Timestamp: {
        const values = builder.values;
        const isDate = field.kind === Kind.Date;
        for (let i = 0; i < length; i++) {
          const value = rows[i][c];
          if (value === null) {
            builder.appendNull();
            continue;
          }
          const parsed = isDate ? parsePgDate(value) : parsePgTimestamp(value);
          // A date column is int32 days: it cannot hold ±infinity.
          if (parsed !== parsed || (isDate && !Number.isFinite(parsed))) {
            bad ??= new Uint8Array(length);
            if (bad[i] === 0) bad[i] = c + 1;
            values[builder.length++] = 0;
          } else values[builder.length++] = parsed;
        }
        break;
      }
    }
    columns[field.name] = builder.finish();
  }
  return { batch: new Batch(columns, length, origin), bad };
}
