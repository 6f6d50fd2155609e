// Node driver for devstack's real-client broker tests (tests/kafkaclients).
//
// The Go test runs one phase per process and reads the single line starting with "RESULT " from
// stdout (client libraries and Nest may log to stdout too, so the marker is what counts):
//
//   node driver.mjs --client kafkajs|nestjs --phase produce --brokers H:P --topic T --from I --count N
//     produces values m-I .. m-(I+N-1) (keys k-<id>) with acks=all -> {"acked":N}
//   node driver.mjs ... --phase group --group G --partitions P --from I --count N
//     two members join G, waits until they share all P partitions, then produces the N records with
//     acks=all and consumes until the two members together have every one, commits, leaves
//     -> {"members":[{"name","assigned":[p...],"records":[{"v","p","o"}]}]}
//   node driver.mjs ... --phase resume --group G --from I --count N
//     one member resumes G from its committed offsets and consumes until it saw N records in the
//     range [I, I+N) (any other record is reported too), commits, leaves -> {"members":[...]}
//
// On failure it prints RESULT {"error": "..."} and exits 1.
import process from 'node:process';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
import { createRequire } from 'node:module';
import { logCreator, parseFlags, report } from './common.mjs';

const require = createRequire(import.meta.url);
const { Kafka, logLevel, AssignerProtocol } = require('kafkajs');

function parseArgs(argv) {
  const args = parseFlags(argv);
  for (const k of ['from', 'count', 'partitions', 'timeout-ms']) {
    if (args[k] !== undefined) args[k] = Number.parseInt(args[k], 10);
  }
  args['timeout-ms'] ??= 90000;
  args.from ??= 0;
  return args;
}

function kafkaOptions(args, clientId) {
  return {
    clientId,
    brokers: args.brokers.split(','),
    logLevel: logLevel.WARN,
    logCreator,
    connectionTimeout: 5000,
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 3000 },
  };
}

const value = (id) => `m-${id}`;
const key = (id) => `k-${id}`;
const ids = (from, count) => Array.from({ length: count }, (_, i) => from + i);

function deadline(ms, what) {
  let timer;
  const p = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what()}`)), ms);
  });
  return { promise: p, cancel: () => clearTimeout(timer) };
}

async function pollUntil(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const res = await fn();
    if (res) return res;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// groupShared describes group G until it is Stable with `members` members whose assignments of
// topic T are non-empty, disjoint and together cover all `partitions` partitions. It returns
// clientId -> sorted partitions.
async function waitGroupShared(admin, args, members) {
  let last = 'no description yet';
  return pollUntil(async () => {
    const { groups } = await admin.describeGroups([args.group]);
    const g = groups[0];
    const byClient = {};
    for (const m of g.members) {
      let parts = [];
      if (m.memberAssignment && m.memberAssignment.length > 0) {
        const a = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        parts = (a && a.assignment && a.assignment[args.topic]) || [];
      }
      byClient[m.clientId] = [...parts].sort((x, y) => x - y);
    }
    last = `state=${g.state} members=${JSON.stringify(byClient)}`;
    if (g.state !== 'Stable' || g.members.length !== members) return null;
    const all = Object.values(byClient);
    if (all.some((p) => p.length === 0)) return null;
    const union = new Set(all.flat());
    if (union.size !== args.partitions || all.flat().length !== args.partitions) return null;
    return byClient;
  }, args['timeout-ms'], () => `group ${args.group} to share ${args.partitions} partitions among ${members} members (${last})`);
}

// ---- kafkajs ----

async function kjsProduce(args, from, count) {
  const kafka = new Kafka(kafkaOptions(args, 'kc-kafkajs-producer'));
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    let acked = 0;
    const batch = 10;
    for (let i = 0; i < count; i += batch) {
      const messages = ids(from + i, Math.min(batch, count - i)).map((id) => ({ key: key(id), value: value(id) }));
      const res = await producer.send({ topic: args.topic, acks: -1, messages });
      for (const r of res) if (r.errorCode !== 0) throw new Error(`produce error code ${r.errorCode} on partition ${r.partition}`);
      acked += messages.length;
    }
    return { acked };
  } finally {
    await producer.disconnect();
  }
}

function kjsMember(args, name) {
  const kafka = new Kafka(kafkaOptions(args, name));
  const consumer = kafka.consumer({ groupId: args.group, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 20000 });
  // The assignment reported is the one waitGroupShared saw (members leaving at the end rebalance the
  // group again, so later GROUP_JOIN events would not describe what the records were consumed under).
  return { name, consumer, records: [], assigned: [] };
}

async function kjsStart(args, member, onRecord) {
  await member.consumer.connect();
  await member.consumer.subscribe({ topics: [args.topic], fromBeginning: true });
  await member.consumer.run({
    autoCommit: true,
    eachMessage: async ({ partition, message }) => {
      member.records.push({ v: message.value.toString(), p: partition, o: Number(message.offset) });
      onRecord();
    },
  });
}

// ---- @nestjs/microservices Kafka transport ----

let nest;
async function loadNest() {
  if (nest) return nest;
  await import('reflect-metadata');
  const core = await import('@nestjs/core');
  const common = await import('@nestjs/common');
  const ms = await import('@nestjs/microservices');
  const rxjs = await import('rxjs');
  nest = { NestFactory: core.NestFactory, Controller: common.Controller, Module: common.Module, ...ms, lastValueFrom: rxjs.lastValueFrom };
  return nest;
}

async function nestProduce(args, from, count) {
  const n = await loadNest();
  const client = new n.ClientKafka({
    client: kafkaOptions(args, 'kc-nestjs'),
    producerOnlyMode: true,
    producer: { allowAutoTopicCreation: true },
    send: { acks: -1 },
  });
  await client.connect();
  try {
    let acked = 0;
    for (const id of ids(from, count)) {
      const res = await n.lastValueFrom(client.emit(args.topic, { key: key(id), value: value(id) }));
      for (const r of res) if (r.errorCode !== 0) throw new Error(`produce error code ${r.errorCode}`);
      acked++;
    }
    return { acked };
  } finally {
    await client.close();
  }
}

// A Nest microservice application whose @EventPattern(topic) handler records what it receives.
async function nestMember(args, name, onRecord) {
  const n = await loadNest();
  const member = { name, records: [], assigned: [] };
  class EventsController {
    handle(data, ctx) {
      const msg = ctx.getMessage();
      member.records.push({ v: typeof data === 'string' ? data : JSON.stringify(data), p: ctx.getPartition(), o: Number(msg.offset) });
      onRecord();
    }
  }
  // What TypeScript emits for `@EventPattern(topic) handle(@Payload() data, @Ctx() ctx: KafkaContext)`.
  n.Payload()(EventsController.prototype, 'handle', 0);
  n.Ctx()(EventsController.prototype, 'handle', 1);
  n.EventPattern(args.topic)(EventsController.prototype, 'handle', Object.getOwnPropertyDescriptor(EventsController.prototype, 'handle'));
  n.Controller()(EventsController);
  class AppModule {}
  n.Module({ controllers: [EventsController] })(AppModule);
  member.app = await n.NestFactory.createMicroservice(AppModule, {
    transport: n.Transport.KAFKA,
    logger: ['error', 'warn'],
    options: {
      postfixId: '',
      client: kafkaOptions(args, name),
      consumer: { groupId: args.group, sessionTimeout: 10000, heartbeatInterval: 500, rebalanceTimeout: 20000 },
      subscribe: { fromBeginning: true },
      run: { autoCommit: true },
    },
  });
  return member;
}

// ---- phases ----

const impl = {
  kafkajs: {
    produce: kjsProduce,
    async members(args, names, onRecord) {
      const ms = names.map((nm) => kjsMember(args, nm));
      await Promise.all(ms.map((m) => kjsStart(args, m, onRecord)));
      return ms;
    },
    stop: (m) => m.consumer.disconnect(),
  },
  nestjs: {
    produce: nestProduce,
    async members(args, names, onRecord) {
      const ms = [];
      for (const nm of names) ms.push(await nestMember(args, nm, onRecord));
      await Promise.all(ms.map((m) => m.app.listen()));
      return ms;
    },
    stop: (m) => m.app.close(),
  },
};

async function consumePhase(args, c, names, produceAfterJoin) {
  const want = new Set(ids(args.from, args.count).map(value));
  let members = [];
  let done;
  const allSeen = new Promise((resolve) => { done = resolve; });
  const check = () => {
    const seen = new Set(members.flatMap((m) => m.records.map((r) => r.v)).filter((v) => want.has(v)));
    if (seen.size === want.size) done();
  };
  const kafka = new Kafka(kafkaOptions(args, `kc-${args.client}-admin`));
  const admin = kafka.admin();
  await admin.connect();
  try {
    members = await c.members(args, names, check);
    const shared = await waitGroupShared(admin, args, names.length);
    for (const m of members) {
      m.assigned = shared[m.name] || [];
    }
    if (produceAfterJoin) await c.produce(args, args.from, args.count);
    check();
    const dl = deadline(args['timeout-ms'], () => {
      const seen = new Set(members.flatMap((m) => m.records.map((r) => r.v)));
      return `waiting for ${want.size} records, have ${[...want].filter((v) => seen.has(v)).length}: ${JSON.stringify(members.map((m) => ({ name: m.name, records: m.records.length })))}`;
    });
    try {
      await Promise.race([allSeen, dl.promise]);
    } finally {
      dl.cancel();
    }
  } finally {
    // Leaving the group commits what was consumed (kafkajs commits after each batch and on stop).
    await Promise.allSettled(members.map((m) => c.stop(m)));
    await admin.disconnect();
  }
  return { members: members.map((m) => ({ name: m.name, assigned: m.assigned, records: m.records })) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const c = impl[args.client];
  if (!c) throw new Error(`unknown --client ${args.client} (kafkajs|nestjs)`);
  switch (args.phase) {
    case 'produce':
      return c.produce(args, args.from, args.count);
    case 'group':
      return consumePhase(args, c, [`${args.client}-a`, `${args.client}-b`], true);
    case 'resume': {
      args.partitions ??= (await partitionCount(args));
      return consumePhase(args, c, [`${args.client}-a`], false);
    }
    default:
      throw new Error(`unknown --phase ${args.phase} (produce|group|resume)`);
  }
}

async function partitionCount(args) {
  const admin = new Kafka(kafkaOptions(args, `kc-${args.client}-admin`)).admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [args.topic] });
    return md.topics[0].partitions.length;
  } finally {
    await admin.disconnect();
  }
}

report(main);
