#!/usr/bin/env bash
# Hot reload on the sample services themselves (a copy of the sample stack), devstack side by side with
# the peers (air and a bare go build + start, nest start --watch -b swc, manage.py runserver), and each
# reload's timeline. Prints a Markdown section. Needs the samples' dependencies
# (make -C sample-services setup); installs air (pinned, via the Go module proxy) into bench/reload/.cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=bench/reload/.cache
mkdir -p "$cache"
[ -x bin/devstack ] || go build -o bin/devstack ./cmd/devstack
[ -x "$cache/bin/air" ] || GOBIN="$PWD/$cache/bin" go install github.com/air-verse/air@v1.67.4 >&2
go run ./bench/reload -devstack bin/devstack -air "$PWD/$cache/bin/air" "$@"
