import { Order } from './order.entity';

export const ORDERS_PLACED = 'orders.placed';
export const CORRELATION_HEADER = 'correlation-id';

/**
 * The orders.placed message; sample-services/schemas/orders.placed.avsc is its contract (registered by
 * devstack as orders.placed-value; the relay encodes it as Avro with the latest version).
 */
export interface OrderPlacedEvent {
  schema_version: 1;
  order_id: string;
  user_id: string;
  items: { sku: string; quantity: number; unit_price_cents: number }[];
  total_cents: number;
  currency: string;
  shipping_country?: string;
  placed_at: string;
}

export function toOrderPlacedEvent(order: Order): OrderPlacedEvent {
  const event: OrderPlacedEvent = {
    schema_version: 1,
    order_id: order.id,
    user_id: order.userId,
    items: order.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unit_price_cents: i.unitPriceCents })),
    total_cents: order.totalCents,
    currency: order.currency,
    placed_at: order.createdAt.toISOString(),
  };
  if (order.shippingCountry) event.shipping_country = order.shippingCountry;
  return event;
}
