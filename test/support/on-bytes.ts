/** Calls `parse` on `text` placed in the middle of a larger buffer, so start/end offsets are exercised. */
export function onBytes<T>(parse: (buf: Uint8Array, start: number, end: number) => T, text: string): T {
  const bytes = Buffer.from(`##${text}##`, 'latin1');
  return parse(bytes, 2, bytes.length - 2);
}
