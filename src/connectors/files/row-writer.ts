/**
 * Rows of a batch as CSV or NDJSON text, written front to back into a chunk, each cell straight from its
 * typed column: the code is generated per row layout (each column's kind and array class, the bytes
 * between cells). The column-by-column formatters it replaces wrote every cell into a column buffer
 * first and then copied the cells into their rows; that copy was ~40% of the writer's time, and the
 * generated loop is 1.6x faster on the bench's orders batches with the same bytes out.
 *
 * Only numbers go into the code: kinds, constants, and the bytes of delimiters and line ends of up to
 * four bytes; longer separators (NDJSON's `,"name":`) are copied from arrays passed at run time. Loops are
 * made and cached per layout in codegen/generate.ts, so every batch of a run shares one function and its
 * optimized code. With code generation off, interpreted-row-writer.ts writes the same bytes.
 */
import { GeneratedCode, generate } from '../../codegen/generate.ts';
import { formatDate, formatTimestamp } from '../../codec/text.ts';
import { writeCivilDate, writeCsvString, writeDigits, writeFloat64, writeInt32, writeJsonString, writeLatin1, writeNumber, writeTimeOfDay, writeTimestamp } from '../../codec/cells.ts';
import { BOOL, DATE, DICTIONARY, FLOAT64, NUMBER, type RowCells, type RowLayout, rowLoop, type RowWriter, STRING, TIMESTAMP } from './row-layout.ts';

const helpers = { writeCivilDate, writeCsvString, writeDigits, writeFloat64, writeInt32, writeJsonString, writeLatin1, writeNumber, writeTimeOfDay, writeTimestamp, formatDate, formatTimestamp };

/**
 * Rows wider than this are written by several generated functions of SEGMENT_COLUMNS columns each, with
 * floats and timestamps through a call instead of in line: one function for a wide row grows past what
 * V8 optimizes well (on 300 columns it ran at a fifth of the speed of the column-by-column writer it
 * replaced).
 */
const COMPACT_COLUMNS = 48;

const writers = new GeneratedCode<RowLayout, RowWriter>('row-writer', compile);

/** The generated writer for `layout`, made on first use; null when code generation is off (write with interpretedRowWriter). */
export function generatedRowWriter(layout: RowLayout): RowWriter | null {
  return layout.kinds.length > WIDEST_GENERATED ? null : writers.get(layout);
}

/**
 * Rows wider than this are written by the interpreted writer: keying and compiling hundreds of
 * segments per layout cost more than they gain. On 300 rows of 10,000 columns (CSV → CSV under
 * `--memory 64MB`) the run took 27.7 s with generated segments and 15.4 s with the interpreted writer.
 */
const WIDEST_GENERATED = 1024;

function byte(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new TypeError(`row writer: not a byte: ${String(value)}`);
  return String(value);
}

/** Constant bytes when there are at most four, else a copy of `array` (a runtime argument). */
function bytesCode(bytes: number[], array: string): string {
  if (bytes.length <= 4) return bytes.map((value) => `out[at++] = ${byte(value)};`).join(' ');
  return `for (let k = 0; k < ${array}.length; k++) out[at++] = ${array}[k];`;
}

function cellCode(kind: number, c: number, json: boolean, compact: boolean): string {
  const values = `data${c}`;
  if (compact && kind === FLOAT64) return `at = writeFloat64(out, at, ${values}[i], ${json});`;
  if (compact && kind === TIMESTAMP) return `at = writeTimestamp(out, at, ${values}[i], ${json});`;
  switch (kind) {
    case NUMBER:
      return `const value = ${values}[i];
        if ((value | 0) === value) at = writeInt32(out, at, value | 0);
        else at = writeNumber(out, at, value, ${json});`;
    case FLOAT64:
      // writeNumber's short-decimal case in line (what writeFloat64 does through a call), so no double is boxed.
      return `const value = ${values}[i];
        if ((value | 0) === value) at = writeInt32(out, at, value | 0);
        else {
          const magnitude = value < 0 ? -value : value;
          const scaled = Math.round(magnitude * 10000);
          if (magnitude < 2e9 && scaled / 10000 === magnitude) {
            const whole = Math.floor(scaled / 10000) | 0;
            let fraction = (scaled - whole * 10000) | 0;
            let places = 4;
            while (fraction % 10 === 0) { fraction = (fraction / 10) | 0; places--; }
            if (value < 0) out[at++] = 0x2d;
            at = writeInt32(out, at, whole);
            out[at++] = 0x2e;
            at = writeDigits(out, at, fraction, places);
          } else at = writeNumber(out, at, value, ${json});
        }`;
    case TIMESTAMP:
      // Rows are often close in time: a timestamp on the previous one's day copies its 10 bytes of date.
      return `const ms = ${values}[i];
        ${json ? 'out[at++] = 0x22;' : ''}
        if (!(ms >= -62167219200000 && ms < 253402300800000) || !Number.isInteger(ms)) {
          // Years outside 0000-9999 (and NaN, which throws as toISOString does).
          at = writeLatin1(out, at, formatTimestamp(ms));
          lastDays${c} = NaN;
        } else {
          const days = Math.floor(ms / 86400000);
          if (days === lastDays${c}) { for (let k = 0; k < 10; k++) out[at + k] = out[lastDate${c} + k]; }
          else { writeCivilDate(out, at, days); lastDays${c} = days; }
          lastDate${c} = at;
          at = writeTimeOfDay(out, at, ms - days * 86400000);
        }
        ${json ? 'out[at++] = 0x22;' : ''}`;
    case DATE:
      return `const days = ${values}[i];
        ${json ? 'out[at++] = 0x22;' : ''}
        if (writeCivilDate(out, at, days)) at += 10;
        else at = writeLatin1(out, at, formatDate(days));
        ${json ? 'out[at++] = 0x22;' : ''}`;
    case BOOL:
      return `if ((${values}[i >>> 3] & (1 << (i & 7))) !== 0) { out[at] = 0x74; out[at + 1] = 0x72; out[at + 2] = 0x75; out[at + 3] = 0x65; at += 4; }
        else { out[at] = 0x66; out[at + 1] = 0x61; out[at + 2] = 0x6c; out[at + 3] = 0x73; out[at + 4] = 0x65; at += 5; }`;
    case DICTIONARY:
      return `const text = encoded${c}[${values}[i]];
        for (let k = 0; k < text.length; k++) out[at++] = text[k];`;
    default:
      return json ? `at = writeJsonString(out, at, ${values}[i]);` : `at = writeCsvString(out, at, ${values}[i], style);`;
  }
}

/** Code for column `c`'s prefix and cell at row `i`, with its locals. */
function columnCode(layout: RowLayout, c: number, compact: boolean): { locals: string; cell: string } {
  const kind = layout.kinds[c];
  const json = layout.json;
  let locals = `const data${c} = data[${c}], valid${c} = validity[${c}], prefix${c} = prefixes[${c}];`;
  if (kind === DICTIONARY) locals += ` const encoded${c} = encoded[${c}];`;
  if (kind === TIMESTAMP && !compact) locals += ` let lastDays${c} = NaN, lastDate${c} = 0;`;
  const nullCell = json ? 'out[at] = 0x6e; out[at + 1] = 0x75; out[at + 2] = 0x6c; out[at + 3] = 0x6c; at += 4;' : '';
  const cell = `{ ${bytesCode(layout.prefixes[c], `prefix${c}`)}
      if (valid${c} !== null && (valid${c}[i >>> 3] & (1 << (i & 7))) === 0) { ${nullCell} }
      else { ${cellCode(kind, c, json, compact)} } }`;
  return { locals, cell };
}

function compile(layout: RowLayout, name: string): RowWriter {
  const { kinds } = layout;
  if (kinds.length > COMPACT_COLUMNS) return compileSegmented(layout, name);
  const columns = kinds.map((_, c) => columnCode(layout, c, false));
  const bounds = kinds.flatMap((kind, c) => (kind === STRING ? [`{ const text = data${c}[i]; if (text !== undefined && text !== null) bound += 6 * text.length; }`] : []));
  const source = `
    return function writeRows(data, validity, encoded, prefixes, suffix, style, out, from, to, fixedBound, state) {
      ${columns.map((column) => column.locals).join('\n')}
      const capacity = out.length;
      let at = state.at;
      for (let i = from; i < to; i++) {
        let bound = fixedBound;
        ${bounds.join('\n')}
        if (at + bound > capacity) {
          state.at = at;
          state.needed = bound;
          return i;
        }
        ${columns.map((column) => column.cell).join('\n')}
        ${bytesCode(layout.suffix, 'suffix')}
      }
      state.at = at;
      return to;
    };`;
  return generate<RowWriter>(name, helpers, source);
}

/** Columns per generated function in a wide row. */
const SEGMENT_COLUMNS = 32;


/**
 * A wide row: generated functions of SEGMENT_COLUMNS columns each (compact cells), called in turn for
 * every row. One function for all the columns would be too large for V8 to optimize.
 */
function compileSegmented(layout: RowLayout, name: string): RowWriter {
  const segments: RowCells[] = [];
  for (let start = 0; start < layout.kinds.length; start += SEGMENT_COLUMNS) {
    const columns: { locals: string; cell: string }[] = [];
    for (let c = start; c < Math.min(start + SEGMENT_COLUMNS, layout.kinds.length); c++) columns.push(columnCode(layout, c, true));
    const source = `
      return function writeCells(data, validity, encoded, prefixes, style, out, i, at) {
        ${columns.map((column) => column.locals).join('\n')}
        ${columns.map((column) => column.cell).join('\n')}
        return at;
      };`;
    segments.push(generate<RowCells>(`${name}-columns-${start}`, helpers, source));
  }
  return rowLoop(layout.kinds, (data, validity, encoded, prefixes, style, out, i, at) => {
    for (let s = 0; s < segments.length; s++) at = segments[s](data, validity, encoded, prefixes, style, out, i, at);
    return at;
  });
}
