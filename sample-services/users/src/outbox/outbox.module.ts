import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Module } from '@nestjs/common';
import { ClientsModule, Transport } from '@nestjs/microservices';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Partitioners } from 'kafkajs';
import { APP_CONFIG, AppConfig } from '../config/configuration';
import { OutboxMessage } from './outbox-message.entity';
import { KAFKA_CLIENT, OutboxRelay } from './outbox.relay';
import { SCHEMA_REGISTRY, ValueEncoder } from './value-encoder';

@Module({
  imports: [
    TypeOrmModule.forFeature([OutboxMessage]),
    ClientsModule.registerAsync([
      {
        name: KAFKA_CLIENT,
        inject: [APP_CONFIG],
        useFactory: (config: AppConfig) => ({
          transport: Transport.KAFKA,
          options: {
            client: {
              clientId: process.env.DEVSTACK_SERVICE || 'users',
              brokers: config.kafkaBrokers,
              // kafkajs' default retry budget; an idempotent producer must not cap it lower.
              retry: { initialRetryTime: 200 },
            },
            producer: {
              idempotent: true, // acks=all, sequence numbers: a retried send is not written twice
              maxInFlightRequests: 1,
              allowAutoTopicCreation: true,
              createPartitioner: Partitioners.DefaultPartitioner, // murmur2 by key, like the JVM client
            },
            producerOnlyMode: true,
          },
        }),
      },
    ]),
  ],
  providers: [
    OutboxRelay,
    ValueEncoder,
    {
      provide: SCHEMA_REGISTRY,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new SchemaRegistry({ host: config.schemaRegistry.url, clientId: process.env.DEVSTACK_SERVICE || 'users' }),
    },
  ],
  exports: [OutboxRelay],
})
export class OutboxModule {}
