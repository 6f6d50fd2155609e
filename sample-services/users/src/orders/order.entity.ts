import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  OneToMany,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { bigintToNumber } from '../database/bigint.transformer';
import { User } from '../users/user.entity';

@Entity({ name: 'orders' })
@Index('orders_user_id_created_at_idx', ['userId', 'createdAt'])
export class Order {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, (user) => user.orders, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ type: 'varchar', length: 20, default: 'placed' })
  status!: 'placed';

  @Column({ name: 'total_cents', type: 'bigint', transformer: bigintToNumber })
  totalCents!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ name: 'shipping_country', type: 'char', length: 2, nullable: true })
  shippingCountry!: string | null;

  /** The gateway's X-Request-Id of the request that placed the order. */
  @Column({ name: 'correlation_id', type: 'varchar', length: 128, nullable: true })
  correlationId!: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @OneToMany(() => OrderItem, (item) => item.order, { cascade: ['insert'], eager: true })
  items!: OrderItem[];
}

@Entity({ name: 'order_items' })
export class OrderItem {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id?: string;

  @ManyToOne(() => Order, (order) => order.items, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'order_id' })
  order?: Order;

  @Column({ type: 'varchar', length: 64 })
  sku!: string;

  @Column({ type: 'integer' })
  quantity!: number;

  @Column({ name: 'unit_price_cents', type: 'bigint', transformer: bigintToNumber })
  unitPriceCents!: number;
}
