#!/usr/bin/env bash
# Start-up and hot-reload benchmark of devstack's core vs air, nest start --watch and Django's runserver.
# Prints a Markdown section. Installs its peers into bench/core/.cache (air via the Go module proxy,
# npm packages, a Python venv with Django).
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=bench/core/.cache
mkdir -p "$cache"
[ -x bin/devstack ] || go build -o bin/devstack ./cmd/devstack
GOBIN="$PWD/$cache/bin" go install github.com/air-verse/air@v1.67.4 >&2
(cd bench/core/apps/nest && npm ci --no-audit --no-fund --loglevel=error >&2)
if [ ! -x "$cache/venv/bin/python" ]; then python3 -m venv "$cache/venv" >&2; fi
"$cache/venv/bin/pip" install -q -r bench/core/apps/django/requirements.txt >&2
go run ./bench/core -devstack bin/devstack -apps bench/core/apps -air "$PWD/$cache/bin/air" -python "$PWD/$cache/venv/bin/python" "$@"
