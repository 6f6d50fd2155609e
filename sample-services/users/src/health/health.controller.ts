import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutboxRelay } from '../outbox/outbox.relay';

@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly relay: OutboxRelay,
  ) {}

  /** Ready when the database answers; reports how many events wait to be published. */
  @Get()
  async check(): Promise<{ status: 'ok'; service: string; outboxBacklog: number }> {
    try {
      await this.db.query('SELECT 1');
      return { status: 'ok', service: 'users', outboxBacklog: await this.relay.backlog() };
    } catch (err) {
      throw new ServiceUnavailableException(`database: ${(err as Error).message}`);
    }
  }
}
