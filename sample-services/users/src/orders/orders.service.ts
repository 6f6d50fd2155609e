import { ForbiddenException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, QueryFailedError, Repository } from 'typeorm';
import { currentTraceHeaders } from '../common/trace-context';
import { OutboxMessage } from '../outbox/outbox-message.entity';
import { OutboxRelay } from '../outbox/outbox.relay';
import { PlaceOrderDto } from './dto/place-order.dto';
import { CORRELATION_HEADER, ORDERS_PLACED, toOrderPlacedEvent } from './order-events';
import { Order, OrderItem } from './order.entity';

const FOREIGN_KEY_VIOLATION = '23503';

/** Orders belong to registered users; a token's subject may be anything (`devstack token --sub alice`). */
function notAUser(sub: string): ForbiddenException {
  return new ForbiddenException(
    `token subject ${JSON.stringify(sub)} is not a registered user: orders belong to users ` +
      '(POST /api/users/register, then log in or use the returned id as `devstack token --sub`)',
  );
}

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
    if (!isUUID(userId)) throw notAUser(userId);
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
        // the relay adds content-type (Avro); traceparent: the record continues this request's trace
        headers: { [CORRELATION_HEADER]: correlationId, ...currentTraceHeaders() },
      });
      return saved;
    }).catch((err: unknown) => {
      if (err instanceof QueryFailedError && (err.driverError as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
        throw notAUser(userId);
      }
      throw err;
    });
    this.logger.log(`order ${order.id} placed by ${userId} (${totalCents} ${dto.currency}) [${correlationId}]`);
    this.relay.kick();
    return order;
  }

  async list(userId: string, limit: number): Promise<Order[]> {
    if (!isUUID(userId)) return []; // no order can belong to it
    return this.orders.find({ where: { userId }, order: { createdAt: 'DESC' }, take: limit });
  }

  async get(userId: string, id: string): Promise<Order> {
    const order = isUUID(userId) ? await this.orders.findOneBy({ id, userId }) : null;
    if (!order) throw new NotFoundException(`order ${id} not found`);
    return order;
  }
}
