#!/usr/bin/env bash
# Fetches Apache Avro's Java library (org.apache.avro:avro and its runtime dependencies) from Maven Central
# once into ${XDG_CACHE_HOME:-~/.cache}/devstack/avro/<version>/libs and prints that directory. Used by the
# differential test of internal/schemas (Go's Avro compatibility verdicts against Java's
# SchemaCompatibility). Needs mvn.
# Usage: scripts/avro-jars.sh [version]   (default: $AVRO_VERSION, else 1.12.2)
set -euo pipefail

version="${1:-${AVRO_VERSION:-1.12.2}}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/devstack/avro/$version"
libs="$cache/libs"

if [[ ! -f "$cache/.complete" ]]; then
	command -v mvn >/dev/null 2>&1 || { echo "avro-jars: mvn is not on PATH (install Maven)" >&2; exit 1; }
	echo "avro-jars: fetching Apache Avro $version jars into $libs" >&2
	rm -rf "$cache"
	mkdir -p "$cache"
	# A throwaway pom whose only job is to resolve org.apache.avro:avro and its runtime dependencies.
	cat > "$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.devstack.test</groupId>
  <artifactId>avro-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.avro</groupId><artifactId>avro</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>2.0.17</version></dependency>
  </dependencies>
</project>
POM
	timeout 600 mvn -q -B -f "$cache/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
	touch "$cache/.complete"
fi
echo "$libs"
