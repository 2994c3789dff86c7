/**
 * Deterministic generated orders, for the memory bench and the scheduler tests: the same seed and size
 * give the same bytes on every machine.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { z } from 'zod';
import { random } from '../../support/random.ts';

export { random };

export const ORDERS_HEADER = 'order_id,customer,country,status,quantity,unit_price,ordered_at,note\n';

export const Order = z.object({
  order_id: z.number().int().min(0).max(4_000_000_000),
  customer: z.string(),
  country: z.enum(['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE']),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.number().int().min(1).max(100),
  unit_price: z.number().min(0),
  ordered_at: z.iso.datetime(),
  note: z.string().nullable(),
});

const COUNTRIES = ['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE'];
const STATUSES = ['paid', 'shipped', 'cancelled', 'refunded'];
const NOTES = ['', '', '', '', 'gift wrap', 'leave at door', '"call ""before"" delivery"', '"fragile, handle with care"'];


/** Lines of orders text, about `targetBytes` in all (header included), in chunks of about 1 MB. */
export function* ordersChunks(targetBytes: number, seed = 42): Generator<string> {
  const next = random(seed);
  let size = ORDERS_HEADER.length;
  let chunk = ORDERS_HEADER;
  let time = Date.UTC(2025, 0, 1);
  for (let id = 1; size < targetBytes; id++) {
    time += Math.floor(next() * 20_000);
    const line =
      `${id},cust-${String(Math.floor(next() * 50_000)).padStart(5, '0')},${COUNTRIES[Math.floor(next() * 8)]},` +
      `${STATUSES[Math.floor(next() * 4)]},${1 + Math.floor(next() * 9)},${(next() * 500).toFixed(2)},` +
      `${new Date(time).toISOString().slice(0, 19)}Z,${NOTES[Math.floor(next() * NOTES.length)]}\n`;
    size += line.length;
    chunk += line;
    if (chunk.length >= 1 << 20) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Writes a generated orders CSV of about `targetBytes` to `path`; resolves with the rows written. */
export async function writeOrdersCsv(path: string, targetBytes: number, seed = 42): Promise<{ bytes: number; rows: number }> {
  const out = createWriteStream(path);
  let bytes = 0;
  let rows = -1;
  for (const chunk of ordersChunks(targetBytes, seed)) {
    bytes += chunk.length;
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) rows++;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { bytes, rows };
}
