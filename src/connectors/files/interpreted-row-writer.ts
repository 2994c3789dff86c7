/**
 * The row writer for when code generation is off (SLUICE_JITLESS=1, or a host that refuses it): the
 * generated writer's work (row-writer.ts) as a plain loop over the row layout, a switch per cell on its
 * column's kind. Same bytes out, through the same cell writers (codec/cells.ts) the generated code calls
 * or has copies of in line; slower, as every cell pays the switch and a load of its column's arrays.
 */
import { type TextStyle, writeCivilDate, writeCsvString, writeFloat64, writeJsonString, writeLatin1, writeNull, writeTimestamp } from '../../codec/cells.ts';
import { formatDate } from '../../codec/text.ts';
import { BOOL, DATE, DICTIONARY, FLOAT64, NUMBER, type RowLayout, rowLoop, type RowWriter, TIMESTAMP } from './row-layout.ts';

const QUOTE = 0x22;

/** A writer for rows of `layout`; cheap to make (no code is generated), so one per batch is fine. */
export function interpretedRowWriter(layout: RowLayout): RowWriter {
  const kinds = Int32Array.from(layout.kinds);
  const json = layout.json;
  return rowLoop(layout.kinds, (data, validity, encoded, prefixes, style, out, i, at) => {
    for (let c = 0; c < kinds.length; c++) {
      const prefix = prefixes[c];
      for (let k = 0; k < prefix.length; k++) out[at++] = prefix[k];
      const valid = validity[c];
      if (valid !== null && (valid[i >>> 3] & (1 << (i & 7))) === 0) at = writeNull(out, at, json);
      else at = writeCell(kinds[c], data[c], encoded[c], i, out, at, json, style as TextStyle);
    }
    return at;
  });
}

/** Row `i` of a column of `kind` at `at`; returns the offset after it. */
function writeCell(kind: number, values: unknown, encoded: (Uint8Array | undefined)[] | null, i: number, out: Buffer, at: number, json: boolean, style: TextStyle): number {
  switch (kind) {
    case NUMBER:
    case FLOAT64:
      return writeFloat64(out, at, (values as ArrayLike<number>)[i], json);
    case TIMESTAMP:
      return writeTimestamp(out, at, (values as ArrayLike<number>)[i], json);
    case DATE: {
      const days = (values as ArrayLike<number>)[i];
      if (json) out[at++] = QUOTE;
      if (writeCivilDate(out, at, days)) at += 10;
      else at = writeLatin1(out, at, formatDate(days));
      if (json) out[at++] = QUOTE;
      return at;
    }
    case BOOL:
      return writeLatin1(out, at, ((values as Uint8Array)[i >>> 3] & (1 << (i & 7))) !== 0 ? 'true' : 'false');
    case DICTIONARY: {
      const text = encoded![(values as ArrayLike<number>)[i]]!;
      for (let k = 0; k < text.length; k++) out[at++] = text[k];
      return at;
    }
    default: {
      const text = (values as string[])[i];
      return json ? writeJsonString(out, at, text) : writeCsvString(out, at, text, style);
    }
  }
}
