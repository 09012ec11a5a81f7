#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL 15 cluster for the store contract tests.
#
#   URL=$(scripts/postgres-test-server.sh start DIR)   # prints postgresql://postgres@127.0.0.1:PORT/hangar_test
#   HANGAR_TEST_POSTGRES_URL=$URL build/…/bin/store_test
#   scripts/postgres-test-server.sh stop DIR           # stops the cluster and deletes DIR
#
# The cluster lives entirely in DIR (data, socket, log), listens on a free loopback port with
# trust authentication, and leaves any system cluster (e.g. on 5432) alone. initdb and postgres
# refuse to run as root, so when run as root they run as the `postgres` OS user. Only the URL is
# written to stdout; progress and errors go to stderr.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() { echo "postgres-test-server: $*" >&2; exit 1; }

# Runs a command as the cluster's OS user (ourselves unless we are root).
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A random loopback port that nothing listens on (read from /proc, so no python or iproute2).
free_port() {
  local used port
  used=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ local _; do
    [[ $local == *:* ]] && echo $((16#${local##*:}))
  done | sort -u)
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    grep -qx "$port" <<<"$used" || { echo "$port"; return; }
  done
  die "no free port found"
}

start() {
  local dir=$1
  [[ -x $PG_BIN/initdb ]] || die "no PostgreSQL 15 binaries in $PG_BIN (apt-get install postgresql-15)"
  [[ ! -e $dir/data ]] || die "$dir/data already exists; stop it first"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "run as a non-root user or create the postgres OS user"
    chown postgres: "$dir"
    # The postgres user must be able to reach DIR through its parents (e.g. a private /root).
    as_pg test -w "$dir" || die "the postgres user cannot write $dir; use a directory under /tmp"
  fi
  as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale -E UTF8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >&2; then
      break
    fi
    port=""  # the port was taken between probing and binding: try another
  done
  [[ -n $port ]] || { cat "$dir/postgres.log" >&2; die "postgres did not start"; }
  echo "$port" >"$dir/port"

  for _ in $(seq 1 100); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && break
    sleep 0.1
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || die "postgres is not ready"
  as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE hangar_test" >&2
  echo "postgresql://postgres@127.0.0.1:$port/hangar_test"
}

stop() {
  local dir=$1
  if [[ -d $dir/data ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) die "usage: $0 start|stop DIR" ;;
esac
