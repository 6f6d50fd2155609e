import { toOrderPlacedEvent } from '../src/orders/order-events';
import { Order, OrderItem } from '../src/orders/order.entity';
import { topicAvroType, topicValidator } from './schema';

function order(overrides: Partial<Order> = {}): Order {
  const o = new Order();
  Object.assign(o, {
    id: '7b0c7a5e-6a0e-4c55-9f27-0b2f6ac3e0c1',
    userId: 'a3c1f7a8-2c1e-4f7c-8d6a-3b9e8f1d2c4b',
    status: 'placed',
    totalCents: 2 * 1250 + 999,
    currency: 'EUR',
    shippingCountry: 'DE',
    correlationId: 'req-1',
    createdAt: new Date('2026-01-02T03:04:05.678Z'),
    items: [
      Object.assign(new OrderItem(), { sku: 'book', quantity: 2, unitPriceCents: 1250 }),
      Object.assign(new OrderItem(), { sku: 'pen', quantity: 1, unitPriceCents: 999 }),
    ],
    ...overrides,
  });
  return o;
}

describe('orders.placed event', () => {
  const validate = topicValidator('orders.placed');

  it.each([
    ['with a shipping country', order()],
    ['without a shipping country', order({ shippingCountry: null })],
    ['a free order', order({ totalCents: 0, items: [Object.assign(new OrderItem(), { sku: 'gift', quantity: 1, unitPriceCents: 0 })] })],
  ])('matches the schema %s', (_name, o) => {
    const event = toOrderPlacedEvent(o);
    expect(validate(event)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
  });

  it.each([
    ['with a shipping country', order()],
    ['without a shipping country', order({ shippingCountry: null })],
  ])('round-trips through orders.placed.avsc %s', (_name, o) => {
    const type = topicAvroType('orders.placed');
    const event = toOrderPlacedEvent(o);
    const back = type.fromBuffer(type.toBuffer(event));
    expect(back).toEqual({ shipping_country: null, ...event });
  });

  it('does not fit orders.placed.avsc without its required fields (the schema is not vacuous)', () => {
    const { currency: _dropped, ...event } = toOrderPlacedEvent(order());
    expect(topicAvroType('orders.placed').isValid(event)).toBe(false);
  });

  it('carries the order faithfully', () => {
    expect(toOrderPlacedEvent(order())).toEqual({
      schema_version: 1,
      order_id: '7b0c7a5e-6a0e-4c55-9f27-0b2f6ac3e0c1',
      user_id: 'a3c1f7a8-2c1e-4f7c-8d6a-3b9e8f1d2c4b',
      items: [
        { sku: 'book', quantity: 2, unit_price_cents: 1250 },
        { sku: 'pen', quantity: 1, unit_price_cents: 999 },
      ],
      total_cents: 3499,
      currency: 'EUR',
      shipping_country: 'DE',
      placed_at: '2026-01-02T03:04:05.678Z',
    });
  });

  it.each([
    ['a lower-case currency', { currency: 'eur' }],
    ['no items', { items: [] }],
    ['a non-UUID user', { userId: 'alice' }],
  ])('rejects an event with %s (the schema is not vacuous)', (_name, overrides) => {
    expect(validate(toOrderPlacedEvent(order(overrides as Partial<Order>)))).toBe(false);
  });
});
