# Shared by the benchmark scripts (sourced): logging, polling, and stopping what a script
# started. The script sets BENCH_NAME and WORK (its temp dir), appends the pid of every
# background process it starts to PIDS, and installs the traps with bench_traps.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Polls `cmd` until it succeeds or `seconds` pass.
wait_for() {
  local seconds=$1; shift
  local deadline=$(( SECONDS + seconds ))
  until "$@"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.2
  done
}

# On exit: TERM every started process, KILL what is still there after 5 s, remove WORK (kept
# with BENCH_KEEP_DIR=1).
bench_cleanup() {
  local rc=$?
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ -n ${BENCH_KEEP_DIR:-} ]]; then
    echo "$BENCH_NAME: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}

bench_traps() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
