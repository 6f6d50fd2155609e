#!/usr/bin/env bash
# Fetches Apache Kafka's broker jars (kafka_2.13 and its runtime dependencies, plus a log4j2 slf4j binding)
# from Maven Central once into ${XDG_CACHE_HOME:-~/.cache}/devstack/kafka/<version>/libs and prints that
# directory. Used by bench/broker/run.sh, the external-sources test (tests/external) and images/build.sh. Needs mvn.
# Usage: scripts/kafka-jars.sh [version]   (default: $KAFKA_VERSION, else 4.4.0)
set -euo pipefail

version="${1:-${KAFKA_VERSION:-4.4.0}}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/devstack/kafka/$version"
libs="$cache/libs"

if [[ ! -f "$cache/.complete" ]]; then
	command -v mvn >/dev/null 2>&1 || { echo "kafka-jars: mvn is not on PATH (install Maven)" >&2; exit 1; }
	echo "kafka-jars: fetching Apache Kafka $version jars into $libs" >&2
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
echo "$libs"
