import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { OutboxMessage } from '../outbox/outbox-message.entity';
import { OutboxRelay } from '../outbox/outbox.relay';
import { PlaceOrderDto } from './dto/place-order.dto';
import { CORRELATION_HEADER, ORDERS_PLACED, toOrderPlacedEvent } from './order-events';
import { Order, OrderItem } from './order.entity';

@Injectable()
export class OrdersService {
  private readonly logger = new Logger(OrdersService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(Order) private readonly orders: Repository<Order>,
    private readonly relay: OutboxRelay,
  ) {}

  /** Stores the order and its orders.placed event in one transaction, then asks the relay to publish. */
  async place(userId: string, dto: PlaceOrderDto, correlationId: string): Promise<Order> {
    const totalCents = dto.items.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0);
    const order = await this.db.transaction(async (tx) => {
      const items = dto.items.map((i) =>
        tx.create(OrderItem, { sku: i.sku, quantity: i.quantity, unitPriceCents: i.unitPriceCents }),
      );
      const saved = await tx.save(
        tx.create(Order, {
          userId,
          totalCents,
          currency: dto.currency,
          shippingCountry: dto.shippingCountry ?? null,
          correlationId,
          items,
        }),
      );
      await tx.insert(OutboxMessage, {
        topic: ORDERS_PLACED,
        key: userId, // one user's orders stay on one partition, in order
        payload: { ...toOrderPlacedEvent(saved) },
        headers: { [CORRELATION_HEADER]: correlationId, 'content-type': 'application/json' },
      });
      return saved;
    });
    this.logger.log(`order ${order.id} placed by ${userId} (${totalCents} ${dto.currency}) [${correlationId}]`);
    this.relay.kick();
    return order;
  }

  list(userId: string, limit: number): Promise<Order[]> {
    return this.orders.find({ where: { userId }, order: { createdAt: 'DESC' }, take: limit });
  }

  async get(userId: string, id: string): Promise<Order> {
    const order = await this.orders.findOneBy({ id, userId });
    if (!order) throw new NotFoundException(`order ${id} not found`);
    return order;
  }
}
