import { DataSourceOptions } from 'typeorm';
import { Order, OrderItem } from '../orders/order.entity';
import { OutboxMessage } from '../outbox/outbox-message.entity';
import { User } from '../users/user.entity';
import { InitialSchema1764028800000 } from './migrations/1764028800000-InitialSchema';

export const entities = [User, Order, OrderItem, OutboxMessage];
export const migrations = [InitialSchema1764028800000];

/** Shared by the app (migrations run at start) and the TypeORM CLI (data-source.ts). */
export function typeormOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsRun: true,
    // One transaction per migration: a failing one leaves the earlier ones applied.
    migrationsTransactionMode: 'each',
    synchronize: false,
    // Not 'error': a failed INSERT would print its parameters, password hashes included. Nest logs unexpected errors.
    logging: ['warn', 'migration'],
    extra: { max: 10, application_name: process.env.DEVSTACK_SERVICE || 'users' },
  };
}
