// Node driver for devstack's schema registry tests (TestRegistryClients in tests/kafkaclients):
// kafkajs with @kafkajs/confluent-schema-registry.
//
//   node registry.mjs --phase roundtrip|consume --brokers H:P --registry URL --prefix P --count N
//                     [--types avro,json,protobuf]
//
// roundtrip: for each type of --types (AVRO, JSON, PROTOBUF) the schema is registered under <P>.<type>-value
//   (the library also sets the subject's level to BACKWARD), N records are encoded with its id and
//   produced to topic <P>.<type> with acks=all, then consumed from offset 0 and decoded (the decoder
//   fetches the writer's schema by the id in each record) and compared with what was produced.
// consume: only the consuming half, with a new registry client (nothing cached): after a restart.
//
// The Go test reads the line starting with "RESULT ":
//   {"registered": [{"subject","id","version","type"}...]} or {"error": "..."} (exit 1).
import process from 'node:process';
import { createRequire } from 'node:module';
import { logCreator, parseFlags, report } from './common.mjs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const require = createRequire(import.meta.url);
const { Kafka, logLevel } = require('kafkajs');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

function parseArgs(argv) {
  const args = parseFlags(argv);
  args.count = Number.parseInt(args.count ?? '10', 10);
  args['timeout-ms'] = Number.parseInt(args['timeout-ms'] ?? '60000', 10);
  args.types = (args.types ?? 'avro,json,protobuf').split(',').filter(Boolean);
  for (const t of args.types) if (!(t in TYPES)) throw new Error(`unknown type ${t} in --types`);
  return args;
}

const AVRO = JSON.stringify({
  type: 'record', name: 'Order', namespace: 'kc.node',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'customer', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
});

const JSON_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Order',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    customer: { type: 'string' },
    amount: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['id', 'customer', 'amount'],
  additionalProperties: false,
});

const PROTO = `syntax = "proto3";
package kc.node;

message Order {
  int64 id = 1;
  string customer = 2;
  double amount = 3;
  repeated string tags = 4;
}
`;

function order(i) {
  return { id: i, customer: `c-${i}`, amount: i * 1.5, tags: [`t${i % 3}`] };
}

// What each type's decoder gives back, as plain JSON.
const TYPES = {
  avro: {
    schema: { type: SchemaType.AVRO, schema: AVRO },
    value: (i) => ({ ...order(i), note: i % 2 ? null : `n-${i}` }),
    plain: (v) => ({ ...v }),
  },
  json: {
    schema: { type: SchemaType.JSON, schema: JSON_SCHEMA },
    value: order,
    plain: (v) => v,
  },
  protobuf: {
    schema: { type: SchemaType.PROTOBUF, schema: PROTO },
    value: order,
    // protobufjs decodes int64 as a Long: compare as JSON (Long -> number for these small ids).
    plain: (v) => {
      const o = typeof v.toJSON === 'function' ? v.toJSON() : { ...v };
      return { id: Number(o.id), customer: o.customer, amount: o.amount, tags: o.tags ?? [] };
    },
  },
};

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const registry = new SchemaRegistry({ host: args.registry });
  const kafka = new Kafka({
    clientId: 'kc-registry-node', brokers: args.brokers.split(','), logLevel: logLevel.WARN, logCreator,
    connectionTimeout: 5000, retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 3000 },
  });
  const deadline = Date.now() + args['timeout-ms'];
  const registered = [];

  if (args.phase === 'roundtrip') {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      for (const name of args.types) {
        const t = TYPES[name];
        const topic = `${args.prefix}.${name}`;
        const { id } = await registry.register(t.schema, { subject: `${topic}-value` });
        const messages = [];
        for (let i = 0; i < args.count; i++) {
          messages.push({ key: `k-${i}`, value: await registry.encode(id, t.value(i)) });
        }
        await producer.send({ topic, acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
    }
  } else if (args.phase !== 'consume') {
    throw new Error(`unknown phase ${args.phase}`);
  }

  // The reader has a registry client of its own: register() cached the writer's schemas, and the
  // decoder must fetch them by the ids in the records (GET /schemas/ids/N), as another service would.
  const reader = new SchemaRegistry({ host: args.registry });
  for (const name of args.types) {
    const t = TYPES[name];
    const topic = `${args.prefix}.${name}`;
    const got = await consumeAll(kafka, topic, args.count, deadline);
    for (let i = 0; i < got.length; i++) {
      const v = t.plain(await reader.decode(got[i]));
      const want = t.value(i);
      if (!same(v, want)) throw new Error(`${topic} record ${i}: decoded ${JSON.stringify(v)}, want ${JSON.stringify(want)}`);
    }
    const subject = `${topic}-value`;
    const res = await fetch(`${args.registry}/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (!res.ok) throw new Error(`GET /subjects/${subject}/versions/latest: ${res.status} ${await res.text()}`);
    const { id, version } = await res.json();
    registered.push({ subject, id, version, type: name.toUpperCase() });
  }
  return { registered };
}

// consumeAll reads partition 0 of topic from offset 0 until it has count record values.
async function consumeAll(kafka, topic, count, deadline) {
  const consumer = kafka.consumer({ groupId: `kc-registry-node-${topic}-${process.pid}`, retry: { retries: 12 } });
  const values = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done;
    const finished = new Promise((resolve) => { done = resolve; });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (partition === 0 && Number(message.offset) < count) values[Number(message.offset)] = message.value;
        if (values.filter(Boolean).length >= count) done();
      },
    });
    const left = deadline - Date.now();
    let timer;
    await Promise.race([
      finished,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${topic}: ${values.filter(Boolean).length} of ${count} records consumed before the timeout`)), left); }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return values;
}

report(main);
