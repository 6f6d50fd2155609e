#!/usr/bin/env bash
# Hot reload on the sample services themselves (a copy of the sample stack): each reload's timeline,
# save to switch. Prints a Markdown section. Needs the samples' dependencies (make -C sample-services setup).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -x bin/devstack ] || go build -o bin/devstack ./cmd/devstack
go run ./bench/reload -devstack bin/devstack "$@"
