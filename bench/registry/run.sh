#!/usr/bin/env bash
# Schema registry benchmark: devstack's registry (internal/schemareg on the embedded broker, one process)
# — start, register latency, RSS with 10,000 schemas, GET /schemas/ids/{id} req/s and p99 under wrk.
# Prints a Markdown section to stdout (progress to stderr). Installs Debian's wrk when missing (falls
# back to a Go load generator when it cannot). About 2 minutes on 2 cores.
# Usage: bench/registry/run.sh [registry-bench flags, e.g. -schemas 2000 -rounds 1]
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v wrk >/dev/null; then
  echo "installing wrk ..." >&2
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk; } >&2 ||
    echo "bench/registry: could not install wrk; using the Go load generator" >&2
fi

bin="$(mktemp -d)/registry-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/registry
export GOMAXPROCS="$(nproc)"
timeout 900 "$bin" -wrk "$(command -v wrk || true)" "$@"
