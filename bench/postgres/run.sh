#!/usr/bin/env bash
# PostgreSQL start benchmark: devstack's embedded server (cold without / with the initdb template, warm)
# against embedded-postgres' own Start, on the same local binaries. Prints a Markdown section.
# Usage: bench/postgres/run.sh [runs]   (default 5; bounded: about 1–2 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"

# needs a local PostgreSQL (Debian/Ubuntu: the postgresql package)
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v pg_config >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL (apt-get install postgresql)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  else
    echo "bench/postgres: no local PostgreSQL; install it (apt-get install postgresql)" >&2
    exit 1
  fi
fi

bin="$(mktemp -d)/postgres-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/postgres
timeout 600 "$bin" -runs "$runs"
