/** The csv bench's orders (cases/csv.ts generates them), as a schema: the bench cases and its threaded pipeline share it. */
import { z } from 'zod';

export const Order = z.object({
  order_id: z.int().min(0),
  customer_id: z.int().min(0).max(1_000_000),
  ordered_at: z.iso.datetime(),
  country: z.enum(['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'SE']),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.int().min(1).max(100),
  unit_price: z.number().min(0),
  discount: z.number().min(0).max(1),
  gift: z.boolean(),
  note: z.string().nullable(),
});
