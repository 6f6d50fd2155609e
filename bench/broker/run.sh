#!/usr/bin/env bash
# Broker benchmark: devstack's embedded broker (internal/broker) against Apache Kafka 4.x (KRaft, single
# node) started from Maven Central's jars, on loopback. Prints a Markdown section to stdout (progress to
# stderr). Needs java (17+) and mvn; the Kafka jars and their runtime dependencies are fetched once into
# ~/.cache/devstack/kafka/<version>/libs. Bounded: 3 rounds of ~1.3 M records per broker, each phase at most 3 min;
# about 3-5 minutes in all on 2 cores.
# Usage: bench/broker/run.sh [broker-bench flags, e.g. -small 200000 -large 50000]
# Env: KAFKA_VERSION (default 4.4.0), JAVA (default java).
set -euo pipefail
cd "$(dirname "$0")/../.."

version="${KAFKA_VERSION:-4.4.0}"
java="${JAVA:-java}"

for tool in "$java" mvn go; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench/broker: $tool is not on PATH (install a JDK 17+ and Maven)" >&2; exit 1; }
done

# the jars and their runtime dependencies, fetched once (shared with tests/external and images/build.sh)
libs="$(./scripts/kafka-jars.sh "$version")"

bin="$(mktemp -d)/broker-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/broker
timeout 1200 "$bin" -kafka-libs "$libs" -kafka-version "$version" -java "$java" "$@"
