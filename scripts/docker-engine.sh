#!/usr/bin/env bash
# A Docker engine for the --containers tests. When no engine answers (DOCKER_HOST, else the default socket),
# installs Debian's docker.io if dockerd is missing and starts a private dockerd (own socket, data root and
# exec root; no iptables rules, published ports go through docker-proxy on loopback). Only an engine this
# script started is ever stopped, and only by the last `run` still using it.
#
# Usage:
#   scripts/docker-engine.sh run -- CMD [ARGS...]  ensure an engine, run CMD with DOCKER_HOST set to it, then stop
#                                                  the engine if this script started it and no other run uses it
#   scripts/docker-engine.sh start                 ensure an engine; print DOCKER_HOST=...
#   scripts/docker-engine.sh stop                  stop the engine this script started (unless a run uses it)
#   scripts/docker-engine.sh status                say which engine answers, if any
# What dockerd needs (found on the CI machine, itself a container, cgroup v1 hybrid, ext4 root): root; overlay2
# works on ext4; dockerd starts its own containerd under the exec root; no iptables rules are needed
# (--iptables=false) because published ports go through docker-proxy on 127.0.0.1. It runs in the host's
# network namespace, not a private one: devstack, its services and the tests reach the containers on the
# host's loopback. It adds the docker0 bridge (172.17.0.0/16 unless taken).
# Env: DEVSTACK_DOCKER_STATE (default /run/devstack-docker: socket, pidfile, log, locks),
#      DEVSTACK_DOCKER_DATA (default /var/lib/devstack-docker: images and volumes; kept between runs).
set -euo pipefail

state="${DEVSTACK_DOCKER_STATE:-/run/devstack-docker}"
data="${DEVSTACK_DOCKER_DATA:-/var/lib/devstack-docker}"
own_host="unix://$state/docker.sock"
pidfile="$state/dockerd.pid"
log="$state/dockerd.log"

say() { echo "docker-engine: $*" >&2; }

# answers HOST: the engine at HOST responds to the API.
answers() {
	DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# find_engine prints the DOCKER_HOST of an answering engine: DOCKER_HOST if set (and nothing else), else the
# default socket, else this script's own engine.
find_engine() {
	if [[ -n "${DOCKER_HOST:-}" ]]; then
		answers "$DOCKER_HOST" && { echo "$DOCKER_HOST"; return 0; }
		return 1
	fi
	local h
	for h in unix:///var/run/docker.sock "$own_host"; do
		answers "$h" && { echo "$h"; return 0; }
	done
	return 1
}

# our_pid prints the pid of the dockerd this script started, if it still runs.
our_pid() {
	[[ -f "$pidfile" ]] || return 1
	local pid
	pid="$(cat "$pidfile")"
	[[ "$pid" =~ ^[0-9]+$ ]] && [[ "$pid" -gt 1 ]] || return 1
	# the pid must still be that dockerd (not a recycled pid)
	[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] || return 1
	echo "$pid"
}

install_engine() {
	command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 && return 0
	if [[ "$(id -u)" != 0 ]]; then
		say "no Docker engine answers and dockerd is not installed; install Docker (Debian: apt-get install docker.io) or set DOCKER_HOST"
		return 1
	fi
	say "installing Debian's docker.io (dockerd, containerd, runc)"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 docker.io >&2
}

start_engine() {
	if [[ "$(id -u)" != 0 ]]; then
		say "no Docker engine answers and starting one needs root; start Docker (or set DOCKER_HOST to a running engine)"
		return 1
	fi
	install_engine
	mkdir -p "$state" "$data"
	rm -f "$state/docker.sock" "$pidfile"
	say "starting dockerd on $own_host (data $data, log $log)"
	# dockerd must not inherit the lock descriptors (8, 9): it would hold the locks for its whole life.
	# --iptables=false: the host's firewall is left alone (no NAT, no FORWARD policy change); a published port is
	# served by docker-proxy, which reaches the container over the bridge. Containers get no outbound NAT,
	# which the images built by images/build.sh do not need (they are built from a root filesystem made on the host).
	setsid dockerd \
		--host "$own_host" \
		--data-root "$data" \
		--exec-root "$state/exec" \
		--pidfile "$pidfile" \
		--iptables=false --ip-masq=false \
		--userland-proxy=true \
		>"$log" 2>&1 </dev/null 8>&- 9>&- &
	local i
	for i in $(seq 1 120); do
		if answers "$own_host"; then
			say "dockerd answers ($(DOCKER_HOST="$own_host" docker info --format '{{.Driver}}' 2>/dev/null) storage)"
			return 0
		fi
		if ! kill -0 $! 2>/dev/null; then
			say "dockerd exited; last lines of $log:"
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.5
	done
	say "dockerd did not answer within 60 s; last lines of $log:"
	tail -n 20 "$log" >&2
	stop_engine
	return 1
}

stop_engine() {
	local pid i
	pid="$(our_pid)" || { rm -f "$pidfile"; return 0; }
	say "stopping dockerd (pid $pid, started by this script)"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
		sleep 0.5
	done
	say "dockerd (pid $pid) ignored SIGTERM for 30 s; killing its process group"
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

# ensure finds or starts an engine (under the start lock) and prints its DOCKER_HOST.
ensure() {
	mkdir -p "$state"
	exec 8>"$state/start.lock"
	flock -x 8
	local host
	if ! host="$(find_engine)"; then
		if [[ -n "${DOCKER_HOST:-}" ]]; then
			say "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST; start it, or unset DOCKER_HOST to let this script start one"
			return 1
		fi
		start_engine
		host="$own_host"
	fi
	flock -u 8
	echo "$host"
}

cmd="${1:-}"
shift || true
case "$cmd" in
run)
	[[ "${1:-}" == "--" ]] && shift
	[[ $# -gt 0 ]] || { say "usage: $0 run -- CMD [ARGS...]"; exit 2; }
	mkdir -p "$state"
	# every run holds a shared lock on users.lock while its command runs; the engine is stopped only by a run
	# that can take it exclusively, i.e. the last one.
	exec 9>"$state/users.lock"
	flock -s 9
	host="$(ensure)"
	rc=0
	DOCKER_HOST="$host" "$@" || rc=$?
	if [[ "$host" == "$own_host" ]] && flock -x -n 9; then
		stop_engine
	elif [[ "$host" == "$own_host" ]]; then
		say "dockerd left running: another run still uses it (the last one stops it)"
	fi
	exit "$rc"
	;;
start)
	host="$(ensure)"
	echo "DOCKER_HOST=$host"
	;;
stop)
	mkdir -p "$state"
	exec 9>"$state/users.lock"
	if flock -x -n 9; then
		stop_engine
	else
		say "dockerd left running: a run still uses it"
	fi
	;;
status)
	if host="$(find_engine)"; then
		echo "DOCKER_HOST=$host answers"
	else
		echo "no Docker engine answers"
		exit 1
	fi
	;;
*)
	say "usage: $0 run -- CMD [ARGS...] | start | stop | status"
	exit 2
	;;
esac
