import { Column } from '../../batch/column.ts';

// Per-group state arrays of the accumulators: grown as groups come, gathered for a spill.

export function grown(array: Float64Array<ArrayBuffer>, capacity: number, fill = 0): Float64Array<ArrayBuffer> {
  if (array.length >= capacity) return array;
  const next = new Float64Array(capacity);
  next.set(array);
  if (fill !== 0 || Object.is(fill, -0)) next.fill(fill, array.length);
  return next;
}

export function grownBytes(array: Uint8Array<ArrayBuffer>, capacity: number): Uint8Array<ArrayBuffer> {
  if (array.length >= capacity) return array;
  const next = new Uint8Array(capacity);
  next.set(array);
  return next;
}

export function gatherNumbers(array: Float64Array, members: Int32Array): Float64Array {
  const out = new Float64Array(members.length);
  for (let j = 0; j < members.length; j++) out[j] = array[members[j]];
  return out;
}

export function gatherBytes(array: Uint8Array, members: Int32Array): Uint8Array {
  const out = new Uint8Array(members.length);
  for (let j = 0; j < members.length; j++) out[j] = array[members[j]];
  return out;
}

/** A count as uint32 while every count fits, else float64 (exact up to 2^53). */
export function countColumn(all: Float64Array, from: number, to: number): Column {
  const counts = all.subarray(from, to);
  let largest = 0;
  for (let g = 0; g < counts.length; g++) if (counts[g] > largest) largest = counts[g];
  if (largest <= 0xffffffff) return new Column('uint32', counts.length, Uint32Array.from(counts), null);
  return new Column('float64', counts.length, counts.slice(), null);
}
