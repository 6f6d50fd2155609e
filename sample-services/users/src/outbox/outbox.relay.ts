import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ClientKafka } from '@nestjs/microservices';
import { InjectDataSource } from '@nestjs/typeorm';
import { lastValueFrom } from 'rxjs';
import { DataSource, IsNull } from 'typeorm';
import { untraced, withTraceHeaders } from '../common/trace-context';
import { OutboxMessage } from './outbox-message.entity';
import { AVRO_CONTENT_TYPE, ValueEncoder } from './value-encoder';

export const KAFKA_CLIENT = 'KAFKA_CLIENT';

/** How often the relay looks for messages a fast-path publish missed (broker down, crash, restart). */
const SWEEP_INTERVAL_MS = 1000;
const BATCH_SIZE = 100;

/**
 * Publishes outbox rows to Kafka in id order and marks them published. The row keeps the event as JSON;
 * it is encoded as Avro with the topic's latest schema when it is sent (ValueEncoder), so a row written
 * before a compatible schema change goes out with the new version. The row's headers (correlation-id)
 * go with it; content-type says Avro. Rows are claimed with
 * FOR UPDATE SKIP LOCKED, so several replicas can relay at once without sending a row twice in the
 * normal case. Delivery is at least once (a crash between send and commit resends); consumers dedupe
 * by order_id.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(KAFKA_CLIENT) private readonly kafka: ClientKafka,
    private readonly encoder: ValueEncoder,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), SWEEP_INTERVAL_MS);
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.kafka.close();
  }

  /** Publishes pending rows soon; calls while a run is in progress coalesce into one more run. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = untraced(() => this.drain()).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Number of rows not yet published. */
  backlog(): Promise<number> {
    return this.db.getRepository(OutboxMessage).count({ where: { publishedAt: IsNull() } });
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped && (await this.publishBatch()) === BATCH_SIZE) {
        // a full batch: there may be more
      }
    } catch (err) {
      this.logger.warn(`outbox publish failed, retrying in ${SWEEP_INTERVAL_MS} ms: ${(err as Error).message}`);
    }
  }

  private publishBatch(): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .getRepository(OutboxMessage)
        .createQueryBuilder('m')
        .where('m.published_at IS NULL')
        .orderBy('m.id')
        .limit(BATCH_SIZE)
        .setLock('pessimistic_write')
        .setOnLocked('skip_locked')
        .getMany();
      for (const row of rows) {
        try {
          const { value } = await this.encoder.encode(row.topic, row.payload);
          const headers = { ...row.headers, 'content-type': AVRO_CONTENT_TYPE };
          // Inside the placing request's trace (the row's traceparent): the publish span joins it.
          await withTraceHeaders(row.headers, () =>
            lastValueFrom(this.kafka.emit(row.topic, { key: row.key, value, headers }), { defaultValue: undefined }),
          );
        } catch (err) {
          await tx.update(OutboxMessage, row.id, { attempts: row.attempts + 1, lastError: String(err) });
          throw err; // keep order: nothing after a failed row goes out before it
        }
        await tx.update(OutboxMessage, row.id, { publishedAt: new Date(), attempts: row.attempts + 1 });
      }
      return rows.length;
    });
  }
}
