# Sourced by scripts/ensure-tools.sh and scripts/prometheus.sh:
#
#   apt_usable MAC WITHOUT PKG... || exit 0
#   apt_install PKG...
#
# apt_usable says whether the Debian packages PKG can be installed here, and sets SUDO to what
# apt_install will use. Where there is no apt-get, or neither root nor sudo, it says so (MAC: the
# Homebrew command; WITHOUT: what happens without the packages) and returns 1. apt_install installs
# them (a failing apt-get stops a script under set -e: call it outside `||` and `if`).
apt_usable() {
  local mac=$1 without=$2
  shift 2
  if ! command -v apt-get >/dev/null 2>&1; then # macOS and non-Debian Linux: say what, install nothing
    echo "devstack: not installing $* (no apt-get here; on macOS: $mac); $without" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "devstack: please install: $* ($without)" >&2
    return 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
}

apt_install() {
  echo "devstack: installing $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
