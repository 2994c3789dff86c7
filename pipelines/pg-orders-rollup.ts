// PostgreSQL → PostgreSQL: daily revenue per country from `orders` into `orders_daily`, upserted on
// (country, day) so the job can run again (cron) and only rewrites the days it reads.
//
// Setup: the `orders` table, e.g. loaded by
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx etl run examples/csv-to-postgres/pipeline.ts
// then
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx etl run pipelines/pg-orders-rollup.ts
// Set ROLLUP_SINCE=2026-10-01 to recompute only the days from then on.
import { z } from 'zod';
import { pipeline, postgres, toPostgres } from 'sluice';

const DailyRevenue = z.object({
  country: z.string().length(2),
  day: z.iso.date(),
  orders: z.number().int().min(0),
  items: z.number().int().min(0),
  revenue: z.number().min(0),
});

const since = process.env['ROLLUP_SINCE'] ?? '1970-01-01';

export default pipeline({ name: 'pg-orders-rollup', memory: '128MB' })
  .from(
    postgres(
      {
        // The aggregation runs in PostgreSQL; Sluice moves the result. Values only as parameters.
        query: `
          select country,
                 (ordered_at at time zone 'UTC')::date as day,
                 count(*)::int as orders,
                 sum(quantity)::int as items,
                 round(sum(quantity * unit_price)::numeric, 2) as revenue
          from orders
          where status in ('paid', 'shipped') and ordered_at >= $1::date
          group by 1, 2`,
        params: [since],
      },
      { schema: DailyRevenue, statementTimeout: 5 * 60_000 },
    ),
  )
  .derive({ average_order: (row) => Math.round((row.revenue / row.orders) * 100) / 100 })
  .to(toPostgres({ table: 'orders_daily', mode: 'upsert', key: ['country', 'day'], createTable: true }));
