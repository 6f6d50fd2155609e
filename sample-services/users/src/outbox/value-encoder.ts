import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/configuration';

export const SCHEMA_REGISTRY = 'SCHEMA_REGISTRY';

/** The content-type header of the Avro records (the schema id in the value says which schema). */
export const AVRO_CONTENT_TYPE = 'avro/binary';

/** The registry subject of a topic's values (TopicNameStrategy, as devstack.yaml registry.subjects names them). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/**
 * Encodes message values as Confluent-framed Avro (magic byte 0, schema id, Avro binary) with the
 * latest version of the topic's subject. devstack registers the schema files (devstack.yaml
 * registry.subjects), so the service only looks the latest id up; it asks again after latestTtlMs, so a
 * newly registered compatible version is used within that time, and at once after an error.
 */
@Injectable()
export class ValueEncoder {
  private readonly logger = new Logger(ValueEncoder.name);
  private readonly latest = new Map<string, { id: number; at: number }>();

  constructor(
    @Inject(SCHEMA_REGISTRY) private readonly registry: SchemaRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async encode(topic: string, payload: Record<string, unknown>): Promise<{ value: Buffer; schemaId: number }> {
    const subject = valueSubject(topic);
    const schemaId = await this.latestId(subject);
    try {
      return { value: await this.registry.encode(schemaId, payload), schemaId };
    } catch (err) {
      // An unknown id (deleted) or a payload the version refuses: look the latest up again next time.
      this.latest.delete(subject);
      const paths = (err as { paths?: string[][] }).paths;
      const where = paths?.length ? ` at ${paths.map((p) => p.join('.')).join(', ')}` : '';
      throw new Error(`encode ${topic} with ${subject} schema id ${schemaId}${where}: ${(err as Error).message}`);
    }
  }

  private async latestId(subject: string): Promise<number> {
    const cached = this.latest.get(subject);
    const now = Date.now();
    if (cached && now - cached.at < this.config.schemaRegistry.latestTtlMs) return cached.id;
    let id: number;
    try {
      id = await this.registry.getLatestSchemaId(subject);
    } catch (err) {
      if (cached) {
        // The registry may be restarting: keep writing with the version we have.
        this.logger.warn(`latest ${subject} lookup failed, keeping schema id ${cached.id}: ${(err as Error).message}`);
        this.latest.set(subject, { id: cached.id, at: now });
        return cached.id;
      }
      throw new Error(
        `look up the latest ${subject} in ${this.config.schemaRegistry.url} (is it in devstack.yaml registry.subjects?): ${(err as Error).message}`,
      );
    }
    if (cached?.id !== id) this.logger.log(`${subject}: writing with schema id ${id}`);
    this.latest.set(subject, { id, at: now });
    return id;
  }
}
