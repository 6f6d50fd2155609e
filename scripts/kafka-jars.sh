#!/usr/bin/env bash
# Fetches Apache Kafka's broker jars (kafka_2.13 and its runtime dependencies, plus a log4j2 slf4j binding)
# from Maven Central once into ${XDG_CACHE_HOME:-~/.cache}/devstack/kafka/<version>/libs and prints that
# directory. Used by bench/broker/run.sh, the external-sources test (tests/external) and images/build.sh. Needs mvn.
# Usage: scripts/kafka-jars.sh [version]   (default: $KAFKA_VERSION, else 4.4.0)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/maven-jars.sh"

version="${1:-${KAFKA_VERSION:-4.4.0}}"
# kafka_2.13 is the broker; the log4j2 binding makes Kafka's slf4j logging reach log4j2 (warnings to stderr).
maven_jars kafka-jars kafka "$version" "Apache Kafka" "\
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>"
