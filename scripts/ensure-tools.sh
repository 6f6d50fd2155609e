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
. "$(dirname "$0")/apt-install.sh"
apt_usable "brew install postgresql@17 tmux" \
  "without PostgreSQL, devstack finds Homebrew's or Postgres.app's, or downloads one on first start" "${need[@]}" || exit 0
apt_install "${need[@]}"
# Debian's postgresql package starts a cluster on 5432; devstack runs its own server, so stop it.
if printf '%s\n' "${need[@]}" | grep -qx postgresql; then
  $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
