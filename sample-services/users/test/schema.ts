import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Compiles sample-services/schemas/<topic>.schema.json, the contract shared by all services. */
export function topicValidator(topic: string) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const file = join(__dirname, '..', '..', 'schemas', `${topic}.schema.json`);
  return ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
}
