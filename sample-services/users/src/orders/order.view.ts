import { Order } from './order.entity';

export interface OrderView {
  id: string;
  status: string;
  items: { sku: string; quantity: number; unitPriceCents: number }[];
  totalCents: number;
  currency: string;
  shippingCountry: string | null;
  createdAt: string;
}

export function toOrderView(o: Order): OrderView {
  return {
    id: o.id,
    status: o.status,
    items: o.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPriceCents: i.unitPriceCents })),
    totalCents: o.totalCents,
    currency: o.currency,
    shippingCountry: o.shippingCountry,
    createdAt: o.createdAt.toISOString(),
  };
}
