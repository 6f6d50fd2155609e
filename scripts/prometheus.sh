#!/usr/bin/env bash
# Installs Debian's prometheus package when it is missing: internal/cli's TestPrometheusScrapesTheStack
# runs it against a test stack with the scrape config `devstack metrics prometheus` writes.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then # macOS and non-Debian Linux: say what, install nothing
  echo "devstack: not installing prometheus (no apt-get here; on macOS: brew install prometheus); its test is skipped without it" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "devstack: please install prometheus (its test is skipped without it)" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "devstack: installing prometheus"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# Debian's package starts a server on :9090 where an init system runs; the test starts its own.
$SUDO service prometheus stop >/dev/null 2>&1 || true
