#!/usr/bin/env bash
# Installs the system packages devstack's stack and tests use, when they are missing:
# PostgreSQL server binaries (Debian puts them in /usr/lib/postgresql/<v>/bin) and tmux (TUI tests).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then # macOS and non-Debian Linux: say what, install nothing
  echo "devstack: not installing ${need[*]} (no apt-get here; on macOS: brew install postgresql@17 tmux). Without PostgreSQL, devstack finds Homebrew's or Postgres.app's, or downloads one on first start" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "devstack: please install: ${need[*]} (without PostgreSQL, devstack downloads one on first start)" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "devstack: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's postgresql package starts a cluster on 5432; devstack runs its own server, so stop it.
if printf '%s\n' "${need[@]}" | grep -qx postgresql; then
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
