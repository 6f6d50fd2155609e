#!/usr/bin/env bash
# Installs Debian's prometheus package when it is missing: internal/cli's TestPrometheusScrapesTheStack
# runs it against a test stack with the scrape config `devstack metrics prometheus` writes.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
. "$(dirname "$0")/apt-install.sh"
apt_usable "brew install prometheus" "its test is skipped without it" prometheus || exit 0
apt_install prometheus
# Debian's package starts a server on :9090 where an init system runs; the test starts its own.
$SUDO service prometheus stop >/dev/null 2>&1 || true
