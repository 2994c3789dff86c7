/**
 * The one way the source rejects a row, in either mode: a row that broke the schema, or whose text did
 * not fit its column's dtype (a date PostgreSQL can hold and Sluice cannot, e.g. `infinity`), goes to
 * `context.reject` with its query and row number, and the batch goes on without it.
 */
import type { Batch } from '../../batch/batch.ts';
import type { SourceContext } from '../../contracts/contracts.ts';
import type { RowDecoder } from '../../schema/decode.ts';
import type { Field } from './fields.ts';

export type Violation = NonNullable<ReturnType<RowDecoder['append']>>;

/** Rejects row `row` (1-based in the query result) for breaking the schema. */
export function rejectViolation(context: SourceContext, sql: string, row: number, violation: Violation): Promise<void> {
  return context.reject(violation, { query: sql, row, column: violation.column });
}

/**
 * Rows of a decoded batch whose text did not parse: `bad[i]` is 0 for a good row, else 1 + the position
 * of the first column that failed; `valueAt` gives that column's text. Returns the batch without them.
 */
export async function rejectUnparsed(
  batch: Batch,
  bad: Uint8Array,
  fields: readonly Field[],
  valueAt: (row: number, column: number) => string | null,
  context: SourceContext,
  sql: string,
  firstRow: number,
): Promise<Batch> {
  const keep = new Uint32Array(batch.length);
  let kept = 0;
  for (let i = 0; i < batch.length; i++) {
    if (bad[i] === 0) {
      keep[kept++] = i;
      continue;
    }
    const c = bad[i] - 1;
    const field = fields[c];
    const value = valueAt(i, c) ?? '';
    await context.reject(
      {
        column: field.name,
        position: c,
        value,
        rule: field.dtype,
        message: `column ${JSON.stringify(field.name)}: ${JSON.stringify(value)} does not fit a ${field.dtype} column`,
      },
      { query: sql, row: firstRow + i, column: field.name },
    );
  }
  return batch.take(keep, kept);
}
