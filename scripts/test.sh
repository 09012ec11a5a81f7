#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs every test — unit,
# integration against the real binaries, and the store suite on SQLite and on a throwaway
# PostgreSQL server started here on a free port (stopped again at the end). Ends with CTest's
# summary; exits non-zero if anything failed.
#   scripts/test.sh [debug|release|asan]      (default: debug)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-debug}"

scripts/install-deps.sh --test
scripts/build.sh "$preset"

pg_dir=$(mktemp -d /tmp/hangar-test-pg.XXXXXX)
stop_pg() { scripts/postgres-test-server.sh stop "$pg_dir" >/dev/null 2>&1 || true; }
trap stop_pg EXIT
status=0
export HANGAR_TEST_POSTGRES_URL=""
if HANGAR_TEST_POSTGRES_URL=$(scripts/postgres-test-server.sh start "$pg_dir"); then
  echo "PostgreSQL for the store suite: $HANGAR_TEST_POSTGRES_URL"
else
  # Still run everything (the PostgreSQL cases skip), but the run fails: the suite must cover
  # both backends.
  echo "ERROR: the throwaway PostgreSQL server did not start; its store tests will be skipped" >&2
  HANGAR_TEST_POSTGRES_URL=""
  status=1
fi

ctest --preset "$preset" -j2 --timeout 300 || status=$?
stop_pg
trap - EXIT
exit "$status"
