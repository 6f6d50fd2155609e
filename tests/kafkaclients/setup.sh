#!/usr/bin/env bash
# Installs the Node and Python Kafka clients that tests/kafkaclients drives, at the versions pinned in
# node/package-lock.json, python/requirements.txt and python/requirements-kafka-python-2.txt:
#   node/node_modules            kafkajs, @nestjs/microservices (+ @nestjs/core, common, rxjs),  npm ci
#                                @kafkajs/confluent-schema-registry
#   python/.venv                 confluent-kafka with its Avro/JSON/Protobuf schema registry    venv + pip
#                                serializers, kafka-python 3.x
#   python/.venv/kafka-python-2  kafka-python 2.0.x (Metadata v1), put on PYTHONPATH by the test  pip --target
# Re-running is cheap: each part is skipped while its pins and toolchain are unchanged (a stamp file
# records their hash). Needs node >= 20 with npm, and python3 (3.9 to 3.11: kafka-python 2.0.x does not
# import on 3.12+; set PYTHON=/path/to/python3.11 to choose one).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-python3}"
# kafka-python 2.0.x imports only on Python <= 3.11: prefer a python3.11 when the default is newer.
if [[ -z "${PYTHON:-}" ]] && command -v python3 >/dev/null 2>&1 &&
	! python3 -c 'import sys; sys.exit(sys.version_info >= (3, 12))' 2>/dev/null; then
	if command -v python3.11 >/dev/null 2>&1; then
		py=python3.11
	else
		echo "setup.sh: warning: $(python3 --version) cannot import kafka-python 2.0.x; the kafka-python-2.0 client will fail (set PYTHON to a Python 3.11)" >&2
	fi
fi

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

need() {
	command -v "$1" >/dev/null 2>&1 || { echo "setup.sh: $1 is not on PATH; $2" >&2; exit 1; }
}

# --- Node ---
need node "install Node.js 20 or newer"
need npm "install npm (it comes with Node.js)"
cd "$here/node"
want="$(node --version) $(hash_of package.json package-lock.json)"
if [[ -f node_modules/.devstack-stamp && "$(cat node_modules/.devstack-stamp)" == "$want" ]]; then
	echo "tests/kafkaclients/node: up to date"
else
	echo "tests/kafkaclients/node: npm ci"
	npm ci --no-audit --no-fund --loglevel=error
	echo "$want" > node_modules/.devstack-stamp
fi

# --- Python ---
need "$py" "install Python 3 (3.9 to 3.11) or set PYTHON"
cd "$here/python"
want="$("$py" -c 'import sys; print(sys.version)' | head -1) $(hash_of requirements.txt requirements-kafka-python-2.txt)"
if [[ -f .venv/.devstack-stamp && "$(cat .venv/.devstack-stamp)" == "$want" ]]; then
	echo "tests/kafkaclients/python: up to date"
else
	echo "tests/kafkaclients/python: creating .venv"
	rm -rf .venv
	"$py" -m venv .venv
	.venv/bin/pip install --disable-pip-version-check --quiet -r requirements.txt
	.venv/bin/pip install --disable-pip-version-check --quiet --target .venv/kafka-python-2 -r requirements-kafka-python-2.txt
	echo "$want" > .venv/.devstack-stamp
fi
