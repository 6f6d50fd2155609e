import Ajv2020 from 'ajv/dist/2020';
import { Type } from 'avsc';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Avro type of sample-services/schemas/<topic>.avsc, the wire format devstack registers. */
export function topicAvroType(topic: string): Type {
  const file = join(__dirname, '..', '..', 'schemas', `${topic}.avsc`);
  return Type.forSchema(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * Compiles sample-services/schemas/<topic>.schema.json: the value rules (UUIDs, currency codes, ranges)
 * the Avro schema can't express, shared by all services' tests.
 */
export function topicValidator(topic: string) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const file = join(__dirname, '..', '..', 'schemas', `${topic}.schema.json`);
  return ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
}
