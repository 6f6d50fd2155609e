# Sourced by scripts/*-jars.sh, not run.
#
# maven_jars NAME DIR VERSION WHAT DEPENDENCIES
# Fetches DEPENDENCIES (<dependency> elements of a pom) and their runtime dependencies from Maven Central
# once into ${XDG_CACHE_HOME:-~/.cache}/devstack/DIR/VERSION/libs and prints that directory. NAME prefixes
# the messages, WHAT names what is fetched ("Apache Kafka"). Needs mvn.
maven_jars() {
	local name="$1" dir="$2" version="$3" what="$4" deps="$5"
	local cache="${XDG_CACHE_HOME:-$HOME/.cache}/devstack/$dir/$version"
	local libs="$cache/libs"

	if [[ ! -f "$cache/.complete" ]]; then
		command -v mvn >/dev/null 2>&1 || { echo "$name: mvn is not on PATH (install Maven)" >&2; exit 1; }
		echo "$name: fetching $what $version jars into $libs" >&2
		rm -rf "$cache"
		mkdir -p "$cache"
		# A throwaway pom whose only job is to resolve the dependencies and their runtime dependencies.
		cat > "$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.devstack.jars</groupId>
  <artifactId>$name</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
</project>
POM
		timeout 600 mvn -q -B -f "$cache/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2
		touch "$cache/.complete"
	fi
	echo "$libs"
}
