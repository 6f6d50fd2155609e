#!/usr/bin/env bash
# OTLP ingest benchmark: spans/s into devstack's OTLP receiver (OTLP/HTTP protobuf and OTLP/gRPC, as
# `devstack up` runs it, the store at telemetry.max_spans and persisted), the RSS of devstack with the
# store at its bound, and the in-process span sink the gateway and the broker call. Prints a Markdown
# section to stdout (progress to stderr). About 40 seconds.
# Usage: bench/otlp/run.sh [otlp-bench flags, e.g. -duration 5s -clients 8]
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/devstack ] || go build -o bin/devstack ./cmd/devstack
bin="$(mktemp -d)/otlp-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./bench/otlp
export GOMAXPROCS="$(nproc)"
timeout 300 "$bin" -devstack bin/devstack "$@"
