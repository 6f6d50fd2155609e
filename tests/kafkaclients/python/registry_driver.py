"""Drives devstack's schema registry with confluent-kafka's schema registry client and serializers.

One process per phase (the Go test TestRegistryClients runs it); the last stdout line starting with
"RESULT " is a JSON object: {"registered": [{"subject", "id", "version", "type"}...], "error": ""}.

  roundtrip: for each type of --types (avro, json, protobuf): the serializer registers the schema of topic
             <prefix>.<type> (subject <prefix>.<type>-value), --count records are serialized and produced
             with acks=all, then consumed from the start and deserialized (the deserializer fetches the
             writer's schema by id), and each must equal what was produced.
  consume:   only the consuming half, with new clients (no cached schema): after a restart every id the
             records carry must still resolve to the schema they were written with.
  compat:    the registry API through the client: test_compatibility (compatible and incompatible),
             a refused incompatible registration (409), subject/version listing, lookup, levels, soft
             and permanent deletes. Subjects <prefix>.compat-value (kept) and <prefix>.deleted-value.
"""

import argparse
import json
import sys
import time
import traceback

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.json_format import MessageToDict

AVRO_ORDER = json.dumps({
    "type": "record", "name": "Order", "namespace": "kc.python",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
})

JSON_ORDER = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "customer": {"type": "string"},
        "amount": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "customer", "amount"],
    "additionalProperties": False,
})


def order(i):
    return {"id": i, "customer": "c-%d" % i, "amount": i * 1.5, "tags": ["t%d" % (i % 3)]}


def avro_order(i):
    o = order(i)
    o["status"] = "PAID" if i % 2 else "NEW"
    o["note"] = None if i % 2 else "n-%d" % i
    return o


def proto_order_class():
    """kc.python.Order built at run time from a FileDescriptorProto (no protoc needed)."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="kc_python_order.proto", package="kc.python", syntax="proto3")
    m = fdp.message_type.add(name="Order")
    m.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL, json_name="id")
    m.field.add(name="customer", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, json_name="customer")
    m.field.add(name="amount", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL, json_name="amount")
    m.field.add(name="tags", number=4, type=F.TYPE_STRING, label=F.LABEL_REPEATED, json_name="tags")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("kc.python.Order"))


def proto_to_dict(msg):
    d = MessageToDict(msg, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    d["id"] = int(d["id"])  # int64 is a string in proto JSON
    return d


class Types:
    """The serializer, deserializer and expected value of each schema type."""

    def __init__(self, sr, reader_sr):
        Order = proto_order_class()
        self.Order = Order
        conf = {"auto.register.schemas": True}
        self.ser = {
            "avro": AvroSerializer(sr, AVRO_ORDER, conf=conf),
            "json": JSONSerializer(JSON_ORDER, sr, conf=conf),
            "protobuf": ProtobufSerializer(Order, sr, conf=conf),
        }
        self.de = {
            # No reader schema: each record is read with the writer's schema fetched by its id, through
            # a client of its own (the serializers' client cached what it registered).
            "avro": AvroDeserializer(reader_sr),
            "json": JSONDeserializer(None, schema_registry_client=reader_sr),
            "protobuf": ProtobufDeserializer(Order, schema_registry_client=reader_sr),
        }

    def value(self, typ, i):
        if typ == "avro":
            return avro_order(i)
        if typ == "json":
            return order(i)
        return self.Order(**order(i))

    def plain(self, typ, v):
        """A deserialized value as a dict comparable with value()."""
        if typ == "protobuf":
            return proto_to_dict(v)
        return v

    def expected(self, typ, i):
        return order(i) if typ != "avro" else avro_order(i)


TYPES = ["avro", "json", "protobuf"]


def produce(args, types):
    p = Producer({"bootstrap.servers": args.brokers, "acks": "all", "enable.idempotence": True})
    acked, errors = [0], []

    def cb(err, _msg):
        if err:
            errors.append(str(err))
        else:
            acked[0] += 1

    for typ in args.types:
        topic = "%s.%s" % (args.prefix, typ)
        ctx = SerializationContext(topic, MessageField.VALUE)
        for i in range(args.count):
            p.produce(topic, key=b"k-%d" % i, value=types.ser[typ](types.value(typ, i), ctx), on_delivery=cb)
            p.poll(0)
    left = p.flush(args.timeout)
    if left or errors or acked[0] != args.count * len(args.types):
        raise RuntimeError("produced %d records, %d acknowledged, %d not flushed, errors: %s"
                           % (args.count * len(args.types), acked[0], left, errors[:5]))


def consume(args, types):
    """Reads each type's topic from offset 0 and checks every record deserializes to what was produced."""
    problems = []
    for typ in args.types:
        topic = "%s.%s" % (args.prefix, typ)
        c = Consumer({"bootstrap.servers": args.brokers, "group.id": "kc-registry-" + topic,
                      "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(topic, 0, 0)])
            got = []
            deadline = time.time() + args.timeout
            while len(got) < args.count and time.time() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    raise RuntimeError("%s: consume: %s" % (topic, m.error()))
                v = types.de[typ](m.value(), SerializationContext(topic, MessageField.VALUE))
                got.append(types.plain(typ, v))
        finally:
            c.close()
        if len(got) != args.count:
            problems.append("%s: consumed %d records, want %d" % (topic, len(got), args.count))
            continue
        for i, v in enumerate(got):
            if v != types.expected(typ, i):
                problems.append("%s record %d: deserialized %r, want %r" % (topic, i, v, types.expected(typ, i)))
                break
    if problems:
        raise RuntimeError("; ".join(problems))


def registered(sr, subjects):
    out = []
    for s in subjects:
        for v in sr.get_versions(s):
            rs = sr.get_version(s, v)
            out.append({"subject": s, "id": rs.schema_id, "version": rs.version,
                        "type": rs.schema.schema_type or "AVRO"})
    return out


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(code, fn, what):
    try:
        got = fn()
    except SchemaRegistryError as e:
        expect(e.error_code == code, "%s: error_code %s (%s), want %d" % (what, e.error_code, e.error_message, code))
        return
    raise AssertionError("%s: returned %r, want error %d" % (what, got, code))


def avro_schema(fields):
    return Schema(json.dumps({"type": "record", "name": "Compat", "namespace": "kc.python", "fields": fields}), "AVRO")


def compat(args, sr):
    subj = args.prefix + ".compat-value"
    v1 = avro_schema([{"name": "id", "type": "long"}])
    v2 = avro_schema([{"name": "id", "type": "long"}, {"name": "name", "type": "string", "default": ""}])
    bad = avro_schema([{"name": "id", "type": "long"}, {"name": "email", "type": "string"}])  # no default

    expect("AVRO" in sr.get_schema_types() and "PROTOBUF" in sr.get_schema_types() and "JSON" in sr.get_schema_types(),
           "schema types %r, want AVRO, JSON, PROTOBUF" % sr.get_schema_types())
    id1 = sr.register_schema(subj, v1)
    expect(sr.register_schema(subj, v1) == id1, "registering the same schema again must return its id %d" % id1)
    sr.set_compatibility(subj, "BACKWARD")
    expect(sr.get_compatibility(subj) == "BACKWARD", "get_compatibility(%s) = %r, want BACKWARD" % (subj, sr.get_compatibility(subj)))
    expect(sr.test_compatibility(subj, v2) is True, "adding a field with a default must be BACKWARD compatible")
    expect(sr.test_compatibility(subj, bad) is False, "adding a field without a default must not be BACKWARD compatible")
    expect_error(409, lambda: sr.register_schema(subj, bad), "registering an incompatible schema")
    id2 = sr.register_schema(subj, v2)
    expect(id2 > id1, "new schema's id %d must be larger than %d" % (id2, id1))
    expect(sr.get_versions(subj) == [1, 2], "get_versions = %r, want [1, 2]" % sr.get_versions(subj))
    expect(sr.get_version(subj, 1).schema_id == id1, "version 1's id")
    latest = sr.get_latest_version(subj)
    expect(latest.version == 2 and latest.schema_id == id2, "latest = v%s id %s, want v2 id %d" % (latest.version, latest.schema_id, id2))
    found = sr.lookup_schema(subj, v1)
    expect(found.version == 1 and found.schema_id == id1, "lookup of v1 = v%s id %s" % (found.version, found.schema_id))
    expect(json.loads(sr.get_schema(id2).schema_str) == json.loads(v2.schema_str), "get_schema(%d) is not v2" % id2)
    expect(subj in sr.get_subjects(), "get_subjects lacks %s" % subj)
    expect_error(40401, lambda: sr.get_versions(args.prefix + ".nope-value"), "versions of an unknown subject")
    expect_error(40402, lambda: sr.get_version(subj, 9), "an unknown version")
    expect_error(40403, lambda: sr.get_schema(10_000_000), "an unknown id")
    expect_error(42201, lambda: sr.register_schema(subj, Schema('{"type": "recrd"}', "AVRO")), "an invalid schema")
    # The FORWARD level is kept (and must survive restarts: the Go test checks /config/<subject>).
    sr.set_compatibility(subj, "FORWARD")
    expect(sr.get_compatibility(subj) == "FORWARD", "level after set FORWARD")

    # Deletes on another subject: v1, v2 registered, v2 soft-deleted; then the whole subject soft-deleted
    # and permanently deleted. The same schema text keeps its id.
    dsubj = args.prefix + ".deleted-value"
    expect(sr.register_schema(dsubj, v1) == id1, "the same schema under another subject must get the same id")
    users = sorted((sv.subject, sv.version) for sv in sr.get_schema_versions(id1))
    expect(users == sorted([(subj, 1), (dsubj, 1)]), "GET /schemas/ids/%d/versions = %r" % (id1, users))
    expect(sorted(sr.get_subjects_by_schema_id(id1)) == sorted([subj, dsubj]), "GET /schemas/ids/%d/subjects" % id1)
    sr.register_schema(dsubj, v2)
    expect(sr.delete_version(dsubj, 2) == 2, "delete_version returned another version")
    expect(sr.get_versions(dsubj) == [1], "versions after deleting v2 = %r" % sr.get_versions(dsubj))
    expect(sr.delete_subject(dsubj) == [1], "soft delete_subject")
    expect(dsubj not in sr.get_subjects(), "soft-deleted subject still listed")
    expect(dsubj in sr.get_subjects(deleted=True), "soft-deleted subject not listed with deleted=true")
    expect(1 in sr.delete_subject(dsubj, permanent=True), "permanent delete_subject")
    expect(dsubj not in sr.get_subjects(deleted=True), "permanently deleted subject still listed")
    expect(sr.get_schema(id1) is not None, "id %d must stay (it is still used by %s)" % (id1, subj))
    return registered(sr, [subj])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", required=True, choices=["roundtrip", "consume", "compat"])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--registry", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--types", default=",".join(TYPES), help="comma-separated: avro, json, protobuf")
    ap.add_argument("--timeout-ms", type=int, default=60000)
    args = ap.parse_args()
    args.timeout = args.timeout_ms / 1000.0
    args.types = [t for t in args.types.split(",") if t]
    for t in args.types:
        if t not in TYPES:
            ap.error("unknown type %r in --types" % t)
    res = {"registered": [], "error": ""}
    try:
        sr = SchemaRegistryClient({"url": args.registry})
        if args.phase == "compat":
            res["registered"] = compat(args, sr)
        else:
            types = Types(sr, SchemaRegistryClient({"url": args.registry}))
            if args.phase == "roundtrip":
                produce(args, types)
            consume(args, types)
            res["registered"] = registered(sr, ["%s.%s-value" % (args.prefix, t) for t in args.types])
    except Exception as e:  # noqa: BLE001 - reported to the Go test
        traceback.print_exc()
        res["error"] = "%s: %s" % (type(e).__name__, e)
    print("RESULT " + json.dumps(res), flush=True)
    sys.exit(1 if res["error"] else 0)


if __name__ == "__main__":
    main()
