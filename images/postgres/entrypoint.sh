#!/bin/bash
# Runs PostgreSQL with the contract of the official postgres image: on an empty PGDATA it runs initdb with
# superuser POSTGRES_USER (default postgres) and password POSTGRES_PASSWORD (required unless
# POSTGRES_HOST_AUTH_METHOD=trust), creates database POSTGRES_DB (default: the user's name), runs
# /docker-entrypoint-initdb.d/*.sh, *.sql and *.sql.gz in name order against it, then serves on 5432 on every
# address with password authentication. A PGDATA that already holds a cluster is served as it is.
set -euo pipefail

if [[ "${1:-postgres}" != postgres ]]; then
	exec "$@"
fi
shift || true

if [[ "$(id -u)" == 0 ]]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	# a data directory made by another image may have another uid for postgres
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" postgres "$@"
fi

user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
	if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth" != trust ]]; then
		echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set; set it (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
		exit 1
	fi
	pwfile="$(mktemp)"
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
	initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
	rm -f "$pwfile"
	printf 'host all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

	# a temporary server on the Unix socket only, for the database and the init scripts
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	psql=(psql -v ON_ERROR_STOP=1 --username "$user" --no-password --no-psqlrc)
	if [[ "$db" != postgres ]]; then
		"${psql[@]}" --dbname postgres --set db="$db" <<<"CREATE DATABASE :\"db\";"
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		[[ -e "$f" ]] || continue
		case "$f" in
		*.sh) echo "running $f"; if [[ -x "$f" ]]; then "$f"; else . "$f"; fi ;;
		*.sql) echo "running $f"; "${psql[@]}" --dbname "$db" -f "$f" ;;
		*.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$db" ;;
		*) echo "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	echo "PostgreSQL init process complete; ready for start up."
fi

exec postgres -c listen_addresses='*' -p 5432 "$@"
