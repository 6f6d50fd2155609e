#!/usr/bin/env bash
# Builds the local images the --containers tests use, without any image registry:
#   devstack-local/debian:bookworm-<hash>   a Debian bookworm root filesystem made by mmdebstrap from the
#                                           host's Debian apt sources (PostgreSQL 15, OpenJDK 17 JRE, tini),
#                                           imported with `docker import`
#   devstack-local/kafka:<version>          Apache Kafka's jars from Maven Central (scripts/kafka-jars.sh) on it,
#                                           with the environment contract of the official apache/kafka image
#   devstack-local/postgres:15              Debian's PostgreSQL on it, with the contract of the official postgres image
# Each image is built only when missing or when its inputs changed (a hash of them is the label
# dev.devstack.inputs). Needs a Docker engine (run it under scripts/docker-engine.sh run --), and, for the
# base, mmdebstrap (installed when missing, as root) and mvn for the jars. Cold: about 3-6 minutes on 2 cores
# (the root filesystem; Kafka's jars take another minute the first time); unchanged: a second.
# Prints the two image names, one per line. Env: KAFKA_VERSION (default 4.4.0, the jars every test uses), DEVSTACK_APT_SOURCES (the
# apt sources file for the root filesystem; default the host's Debian sources).
set -euo pipefail
cd "$(dirname "$0")"

kafka_version="${KAFKA_VERSION:-4.4.0}"
packages="postgresql-15,openjdk-17-jre-headless,tini"
say() { echo "images: $*" >&2; }
hash() { sha256sum | cut -c1-16; }
label() { docker image inspect --format '{{index .Config.Labels "dev.devstack.inputs"}}' "$1" 2>/dev/null || true; }

docker version --format '{{.Server.Version}}' >/dev/null || { say "no Docker engine answers (run under scripts/docker-engine.sh run --)"; exit 1; }

exec 7>"${TMPDIR:-/tmp}/devstack-images.lock"
flock -x 7

# --- base: one root filesystem for both images (one download, one shared layer)
sources="${DEVSTACK_APT_SOURCES:-}"
if [[ -z "$sources" ]]; then
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		if [[ -s "$f" ]]; then sources="$f"; break; fi
	done
fi
# the root filesystem's recipe; its hash names the base image, so a changed recipe makes a new one.
# The Debian package creates a default cluster; the images make their own in PGDATA.
mm_args=(--variant=apt --include="$packages"
	--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*'
	--dpkgopt='path-exclude=/usr/share/locale/*'
	--customize-hook='rm -rf "$1"/var/lib/postgresql/15/main "$1"/etc/postgresql/15/main')
base_inputs="$(printf '%s\n' bookworm "${mm_args[@]}" | hash)"
base="devstack-local/debian:bookworm-$base_inputs"
if ! docker image inspect "$base" >/dev/null 2>&1; then
	if ! command -v mmdebstrap >/dev/null 2>&1; then
		[[ "$(id -u)" == 0 ]] || { say "mmdebstrap is missing (apt-get install mmdebstrap)"; exit 1; }
		say "installing Debian's mmdebstrap"
		apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 mmdebstrap >&2
	fi
	say "building $base (Debian bookworm: $packages) with mmdebstrap (a few minutes)"
	t0=$SECONDS
	mmdebstrap --quiet "${mm_args[@]}" bookworm - ${sources:+"$sources"} |
		docker import --change 'ENV LANG=C.UTF-8' - "$base" >/dev/null
	say "built $base in $((SECONDS - t0)) s"
fi
# --- end base
base_id="$(docker image inspect --format '{{.Id}}' "$base")"

# build NAME CONTEXT BUILD-ARG...: builds CONTEXT's Dockerfile as NAME unless its inputs are unchanged.
build() {
	local name="$1" ctx="$2"
	shift 2
	local inputs
	inputs="$({ printf '%s\n' "$base_id" "$@"; (cd "$ctx" && find . -type f -printf '%p %s\n' | sort); (cd "$ctx" && find . -maxdepth 1 -type f -print0 | sort -z | xargs -0 cat); } | hash)"
	if [[ "$(label "$name")" == "$inputs" ]]; then
		return 0
	fi
	say "building $name"
	local t0=$SECONDS args=() a old
	old="$(docker image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)"
	for a in "$@"; do args+=(--build-arg "$a"); done
	# the classic builder: BuildKit would look the local base up in a registry; its deprecation notice is noise
	local out
	if ! out="$(DOCKER_BUILDKIT=0 docker build --build-arg BASE="$base" "${args[@]}" --label dev.devstack.inputs="$inputs" -t "$name" "$ctx" 2>&1)"; then
		printf '%s\n' "$out" >&2
		say "building $name failed"
		return 1
	fi
	say "built $name in $((SECONDS - t0)) s"
	# the image this one replaces (now untagged) goes, unless a container still uses it
	if [[ -n "$old" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
}

# --- kafka: the build context is the image's files plus the jars (hard links where possible)
libs="$(../scripts/kafka-jars.sh "$kafka_version")"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp kafka/Dockerfile kafka/entrypoint.sh kafka/log4j2.properties "$ctx/"
cp -l -r "$libs" "$ctx/libs" 2>/dev/null || cp -r "$libs" "$ctx/libs"
build "devstack-local/kafka:$kafka_version" "$ctx" KAFKA_VERSION="$kafka_version"

# --- postgres
build devstack-local/postgres:15 postgres

# base images of earlier recipes (their images were replaced above)
docker image ls --format '{{.Repository}}:{{.Tag}}' devstack-local/debian | while read -r old; do
	if [[ "$old" != "$base" ]]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
done

echo "devstack-local/kafka:$kafka_version"
echo "devstack-local/postgres:15"
