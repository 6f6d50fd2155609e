"""Python driver for devstack's real-client broker tests (tests/kafkaclients).

The Go test runs one phase per process and reads the single stdout line starting with "RESULT ":

  driver.py --client confluent-kafka|kafka-python --phase produce --brokers H:P --topic T --from I --count N
      produces values m-I .. m-(I+N-1) (keys k-<id>) with acks=all -> {"acked": N}
  driver.py ... --phase group --group G --partitions P --from I --count N
      two members join G, waits until they share all P partitions, then produces the N records with
      acks=all and consumes until the two together have every one, committing synchronously after
      each record, then both leave -> {"members": [{"name", "assigned": [p...], "records": [{"v","p","o"}]}]}
  driver.py ... --phase resume --group G --from I --count N
      one member resumes G from its committed offsets and consumes until it saw the N records in
      [I, I+N) (any other record is reported too), commits, leaves -> {"members": [...]}

On failure it prints RESULT {"error": "..."} and exits 1. Library logs go to stderr.
"""

import argparse
import json
import logging
import os
import sys
import threading
import time
import traceback


def value(i):
    return "m-%d" % i


def key(i):
    return "k-%d" % i


class Member:
    def __init__(self, name):
        self.name = name
        self.assigned = []
        self.records = []


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def check(self, what):
        if time.monotonic() > self.end:
            raise TimeoutError("timed out after %.0f s %s" % (self.seconds, what()))


def shared(members, partitions):
    """True when every member has partitions and together they hold each partition exactly once."""
    parts = [p for m in members for p in m.assigned]
    return all(m.assigned for m in members) and len(parts) == partitions and set(parts) == set(range(partitions))


def describe(members):
    return json.dumps([{"name": m.name, "assigned": m.assigned, "records": len(m.records)} for m in members])


# ---- confluent-kafka (librdkafka) ----

class Confluent:
    def __init__(self, args):
        import confluent_kafka

        self.ck = confluent_kafka
        self.args = args
        self.log = logging.getLogger("librdkafka")

    def produce(self, start, count):
        args = self.args
        p = self.ck.Producer({
            "bootstrap.servers": args.brokers,
            "client.id": "kc-confluent-producer",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 60000,
            "logger": self.log,
        })
        errors = []
        acked = [0]

        def delivered(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                acked[0] += 1

        for i in range(start, start + count):
            while True:
                try:
                    p.produce(args.topic, key=key(i).encode(), value=value(i).encode(), on_delivery=delivered)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        left = p.flush(60)
        if left:
            raise RuntimeError("%d records still unacknowledged after 60 s" % left)
        if errors:
            raise RuntimeError("delivery failed: %s" % errors[:5])
        return acked[0]

    def consumers(self, names):
        args = self.args
        out = []
        for name in names:
            m = Member(name)
            c = self.ck.Consumer({
                "bootstrap.servers": args.brokers,
                "group.id": args.group,
                "client.id": name,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 500,
                "logger": self.log,
            })

            def on_assign(consumer, partitions, m=m):
                m.assigned = sorted(tp.partition for tp in partitions if tp.topic == args.topic)

            def on_revoke(consumer, partitions, m=m):
                m.assigned = []

            c.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
            out.append((m, c))
        return out

    def poll(self, member, c, timeout):
        msg = c.poll(timeout)
        if msg is None:
            return
        if msg.error():
            if msg.error().code() == self.ck.KafkaError._PARTITION_EOF:
                return
            raise RuntimeError("consume error: %s" % msg.error())
        member.records.append({"v": msg.value().decode(), "p": msg.partition(), "o": msg.offset()})
        c.commit(message=msg, asynchronous=False)

    def close(self, c):
        c.close()


# ---- kafka-python ----

class KafkaPython:
    def __init__(self, args):
        import kafka

        self.kafka = kafka
        self.args = args

    def produce(self, start, count):
        args = self.args
        p = self.kafka.KafkaProducer(
            bootstrap_servers=args.brokers.split(","),
            client_id="kc-kafka-python-producer",
            acks="all",
            linger_ms=5,
            max_block_ms=30000,
        )
        try:
            futures = [p.send(args.topic, key=key(i).encode(), value=value(i).encode()) for i in range(start, start + count)]
            p.flush(60)
            for f in futures:
                f.get(timeout=60)
            return len(futures)
        finally:
            p.close(timeout=10)

    def consumers(self, names):
        args = self.args
        out = []
        for name in names:
            c = self.kafka.KafkaConsumer(
                bootstrap_servers=args.brokers.split(","),
                group_id=args.group,
                client_id=name,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                session_timeout_ms=10000,
                heartbeat_interval_ms=500,
            )
            # Learn the topic's partitions before subscribing. Without this the first JoinGroup's leader
            # may assign nothing (no metadata yet) and rejoin at once; kafka-python 3.0.12 drops the result
            # of a join that outlives one poll() when need_rejoin() turned false meanwhile, so the member
            # never gets partitions and is evicted (seen here ~1 run in 12 with 100 ms polls).
            c.partitions_for_topic(args.topic)
            c.subscribe([args.topic])
            out.append((Member(name), c))
        return out

    def poll(self, member, c, timeout):
        # A poll long enough for a whole JoinGroup/SyncGroup round (see consumers()).
        batches = c.poll(timeout_ms=1000)
        member.assigned = sorted(tp.partition for tp in c.assignment() if tp.topic == self.args.topic)
        got = False
        for tp, records in batches.items():
            for r in records:
                member.records.append({"v": r.value.decode(), "p": r.partition, "o": r.offset})
                got = True
        if got:
            c.commit()

    def close(self, c):
        c.close(autocommit=False)


CLIENTS = {"confluent-kafka": Confluent, "kafka-python": KafkaPython}


def partition_count(impl, args):
    if isinstance(impl, Confluent):
        md = impl.ck.Consumer({"bootstrap.servers": args.brokers, "group.id": args.group}).list_topics(args.topic, timeout=30)
        t = md.topics.get(args.topic)
        if t is None or t.error is not None:
            raise RuntimeError("topic %s: %s" % (args.topic, t.error if t else "missing"))
        return len(t.partitions)
    c = impl.kafka.KafkaConsumer(bootstrap_servers=args.brokers.split(","))
    try:
        deadline = Deadline(30)
        while True:
            parts = c.partitions_for_topic(args.topic)
            if parts:
                return len(parts)
            deadline.check(lambda: "waiting for metadata of %s" % args.topic)
            time.sleep(0.2)
    finally:
        c.close()


def consume_phase(impl, args, names, produce_after_join):
    """Each member polls in its own thread (kafka-python blocks in poll while its group rebalances,
    which needs the other member to poll too), while this thread watches and produces."""
    want = {value(i) for i in range(args.start, args.start + args.count)}
    deadline = Deadline(args.timeout)
    pairs = impl.consumers(names)
    members = [m for m, _ in pairs]
    stop = threading.Event()
    failures = []

    def loop(m, c):
        try:
            while not stop.is_set():
                impl.poll(m, c, 0.1)
        except Exception as e:
            failures.append("%s: %s\n%s" % (m.name, e, traceback.format_exc()))
        finally:
            try:
                impl.close(c)
            except Exception as e:  # closing is best effort; the result says what was seen
                print("close %s: %s" % (m.name, e), file=sys.stderr)

    threads = [threading.Thread(target=loop, args=pair, daemon=True) for pair in pairs]
    for th in threads:
        th.start()

    def wait(cond, what):
        while not cond():
            if failures:
                raise RuntimeError("; ".join(failures))
            deadline.check(what)
            time.sleep(0.05)

    try:
        wait(lambda: shared(members, args.partitions),
             lambda: "waiting for %d members to share %d partitions: %s" % (len(names), args.partitions, describe(members)))
        # The assignment the records were consumed under (closing revokes it).
        assigned = {m.name: list(m.assigned) for m in members}
        if produce_after_join:
            impl.produce(args.start, args.count)

        def seen():
            return {r["v"] for m in members for r in list(m.records)}

        wait(lambda: want <= seen(),
             lambda: "waiting for %d records, have %d: %s" % (len(want), len(want & seen()), describe(members)))
    finally:
        stop.set()
        for th in threads:
            th.join(30)
    if failures:
        raise RuntimeError("; ".join(failures))
    return {"members": [{"name": m.name, "assigned": assigned[m.name], "records": m.records} for m in members]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=sorted(CLIENTS))
    ap.add_argument("--phase", required=True, choices=["produce", "group", "resume"])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group")
    ap.add_argument("--partitions", type=int)
    ap.add_argument("--from", dest="start", type=int, default=0)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout-ms", type=int, default=90000)
    args = ap.parse_args()
    args.timeout = args.timeout_ms / 1000.0
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, os.environ.get("KC_LOG_LEVEL", "WARNING")), format="%(name)s %(levelname)s %(message)s")

    impl = CLIENTS[args.client](args)
    if args.phase == "produce":
        return {"acked": impl.produce(args.start, args.count)}
    names = ["%s-%s" % (args.client, s) for s in ("a", "b")]
    if args.phase == "group":
        if not args.partitions:
            raise SystemExit("--partitions is required for --phase group")
        return consume_phase(impl, args, names, True)
    if not args.partitions:
        args.partitions = partition_count(impl, args)
    return consume_phase(impl, args, names[:1], False)


if __name__ == "__main__":
    try:
        res = main()
        code = 0
    except BaseException as e:  # report every failure as a result line the Go test can show
        res = {"error": "%s\n%s" % (e, traceback.format_exc())}
        code = 1
    sys.stdout.write("RESULT %s\n" % json.dumps(res))
    sys.stdout.flush()
    sys.exit(code)
