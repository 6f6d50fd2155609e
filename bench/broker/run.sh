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
cache="${XDG_CACHE_HOME:-$HOME/.cache}/devstack/kafka/$version"
libs="$cache/libs"

for tool in "$java" mvn go; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench/broker: $tool is not on PATH (install a JDK 17+ and Maven)" >&2; exit 1; }
done

if [[ ! -f "$cache/.complete" ]]; then
	echo "bench/broker: fetching Apache Kafka $version jars into $libs" >&2
	rm -rf "$cache"
	mkdir -p "$cache"
	# A throwaway pom whose only job is to resolve kafka_2.13 (the broker) and its runtime dependencies,
	# plus a binding so Kafka's slf4j logging reaches log4j2 (warnings to stderr).
	cat > "$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.devstack.bench</groupId>
  <artifactId>kafka-server-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
POM
	timeout 600 mvn -q -B -f "$cache/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
	touch "$cache/.complete"
fi

bin="$(mktemp -d)/broker-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/broker
timeout 1200 "$bin" -kafka-libs "$libs" -kafka-version "$version" -java "$java" "$@"
