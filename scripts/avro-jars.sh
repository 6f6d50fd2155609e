#!/usr/bin/env bash
# Fetches Apache Avro's Java library (org.apache.avro:avro and its runtime dependencies) from Maven Central
# once into ${XDG_CACHE_HOME:-~/.cache}/devstack/avro/<version>/libs and prints that directory. Used by the
# differential test of internal/schemas (Go's Avro compatibility verdicts against Java's
# SchemaCompatibility). Needs mvn.
# Usage: scripts/avro-jars.sh [version]   (default: $AVRO_VERSION, else 1.12.2)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/maven-jars.sh"

version="${1:-${AVRO_VERSION:-1.12.2}}"
maven_jars avro-jars avro "$version" "Apache Avro" "\
    <dependency><groupId>org.apache.avro</groupId><artifactId>avro</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>2.0.17</version></dependency>"
