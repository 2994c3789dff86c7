// The naive contrast: read the whole file, parse it with csv-parse/sync into one object per row,
// filter, derive, write. Run as a child process by the memory bench.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

const [input, output] = process.argv.slice(2);
const rows = parse(readFileSync(input), { columns: true }) as Record<string, string>[];
const lines = ['order_id,customer,country,status,quantity,unit_price,ordered_at,note,total'];
for (const row of rows) {
  if (row.status !== 'paid' && row.status !== 'shipped') continue;
  const total = Math.round(Number(row.quantity) * Number(row.unit_price) * 100) / 100;
  lines.push([row.order_id, row.customer, row.country, row.status, row.quantity, row.unit_price, row.ordered_at, JSON.stringify(row.note), total].join(','));
}
// Written in slices: one string of the whole output would pass V8's maximum string length (~512 MB).
writeFileSync(output, '');
for (let i = 0; i < lines.length; i += 100_000) appendFileSync(output, `${lines.slice(i, i + 100_000).join('\n')}\n`);
process.stdout.write(`${JSON.stringify({ rows: rows.length })}\n`);
