#!/usr/bin/env bash
# HTTP benchmark of hangard against nginx serving the same JSON bodies as static files.
#
#   bench/http_bench.sh [BIN_DIR]        (default: $HANGAR_BIN_DIR, else build/release/bin)
#
# Builds nothing. One run, side by side (see bench/README.md and docs/benchmarks.md):
#   1. hangard on 127.0.0.1:0 with a fresh data dir (SQLite, synchronous=FULL), log level warn;
#   2. 125 hangar-agent processes with --simulate 8xH100-80GB -> 1,000 GPUs; wait until the API
#      lists all of them, then stop the agents (so their heartbeats do not share the CPU with
#      the measurement; BENCH_KEEP_AGENTS=1 keeps them running);
#   3. dump GET /api/v1/gpus/{id} for every id and one 100-item list page to files; start nginx
#      (own config and prefix, access_log off, keepalive) serving them at the same paths;
#   4. wrk, 2 threads, at 64 and 256 connections: GET by id (rotating over the 1,000 ids) and
#      the list page, against hangard and nginx;
#   5. durable creates (POST /api/v1/gpu-types, unique names, only 201 counted) at 1 and 64
#      connections against hangard;
#   6. with BENCH_AUTH=full: restart hangard on the same data with every limit on (rate limits
#      per key, per user and per address at limits far above what wrk reaches, audit on), create
#      a service account bound to `viewer` with an API key, and run GET by id again with (a) the
#      bootstrap admin key, (b) the service account's API key and (c) an access token (JWT) from
#      the client-credentials grant, alternating with nginx;
#   7. print the table. Every process started here is stopped on exit, temp dirs removed.
#
# Environment: BENCH_DURATION (wrk -d, default 10s), BENCH_CONNECTIONS (default "64 256"),
# BENCH_WRITE_CONNECTIONS (default "1 64"), BENCH_THREADS (wrk -t, default 2), BENCH_GPUS
# (default 1000, a multiple of 8), BENCH_REPEAT (runs per figure, median shown; default 1),
# BENCH_SCENARIOS (default "get-by-id list-100 create": which of the bare-server scenarios run),
# BENCH_AUTH (off: only the bare server, rate limits off, as before; full: also step 6),
# BENCH_KEEP_AGENTS (default 0), BENCH_KEEP_DIR (keep the temp
# dir for inspection), BENCH_RAW_OUT (file to append the raw wrk summary lines to).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=${1:-${HANGAR_BIN_DIR:-$REPO_DIR/build/release/bin}}
BIN_DIR=$(cd "$BIN_DIR" && pwd)
DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-"64 256"}
WRITE_CONNECTIONS=${BENCH_WRITE_CONNECTIONS:-"1 64"}
THREADS=${BENCH_THREADS:-2}
GPUS=${BENCH_GPUS:-1000}
KEEP_AGENTS=${BENCH_KEEP_AGENTS:-0}
REPEAT=${BENCH_REPEAT:-1}
SCENARIOS=${BENCH_SCENARIOS:-"get-by-id list-100 create"}
AUTH_MODE=${BENCH_AUTH:-off}
NGINX=${NGINX:-/usr/sbin/nginx}
GPUS_PER_AGENT=8
AGENTS=$(( (GPUS + GPUS_PER_AGENT - 1) / GPUS_PER_AGENT ))
CORES=$(nproc)
case $AUTH_MODE in off | full) ;; *) echo "http_bench: BENCH_AUTH must be off or full" >&2; exit 2 ;; esac
has_scenario() { [[ " $SCENARIOS " == *" $1 "* ]]; }

for tool in wrk curl jq python3 "$NGINX" "$BIN_DIR/hangard" "$BIN_DIR/hangar-agent"; do
  command -v "$tool" >/dev/null || { echo "http_bench: $tool not found" >&2; exit 2; }
done

# The figures mean something only on an otherwise idle machine: say so when it is not.
cpu_busy_percent() {
  local a b
  read -r -a a < <(head -n1 /proc/stat); sleep 1; read -r -a b < <(head -n1 /proc/stat)
  local total=0 idle=$(( b[4] + b[5] - a[4] - a[5] )) i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
BUSY_BEFORE=$(cpu_busy_percent)
if (( BUSY_BEFORE > 10 )); then
  echo "http_bench: warning: the CPU is ${BUSY_BEFORE}% busy before the run; figures will be low" \
    "and noisy" >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hangar-http-bench.XXXXXX")
# nginx workers run as another user (nobody when started as root): let them traverse to www/.
# The data dir (admin key) stays private: hangard makes it 0700.
chmod 711 "$WORK"
PIDS=()          # every background process started here
AGENT_PIDS=()

BENCH_NAME=http_bench
source "$BENCH_DIR/lib.sh"
bench_traps

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- 1. hangard ---------------------------------------------------------------------------------
mkdir -p "$WORK/data"
# The bare server: rate limits off (authentication stays on: every request carries a key).
BARE_FLAGS=(--rate-limit-per-key 0 --rate-limit-per-address 0)

# start_hangard FLAGS...: starts hangard on the data dir, sets HANGARD_PID, ADDR and BASE.
start_hangard() {
  rm -f "$WORK/port"
  log "starting hangard ($BIN_DIR/hangard $*)"
  "$BIN_DIR/hangard" --listen 127.0.0.1:0 --port-file "$WORK/port" --data-dir "$WORK/data" \
    --log-level warn "$@" >>"$WORK/hangard.log" 2>&1 &
  HANGARD_PID=$!
  PIDS+=("$HANGARD_PID")
  wait_for 30 test -s "$WORK/port" || { cat "$WORK/hangard.log" >&2; exit 1; }
  ADDR=$(tr -d '[:space:]' <"$WORK/port")
  BASE="http://$ADDR"
  log "hangard on $BASE (pid $HANGARD_PID)"
}

stop_hangard() {
  kill -TERM "$HANGARD_PID" 2>/dev/null || true
  wait "$HANGARD_PID" 2>/dev/null || true
}

start_hangard "${BARE_FLAGS[@]}"
wait_for 10 test -s "$WORK/data/admin-api-key"
KEY=$(tr -d '[:space:]' <"$WORK/data/admin-api-key")
AUTH="Authorization: Bearer $KEY"

api() { curl -sS --fail-with-body -H "$AUTH" "$@"; }

TOKEN=$(api -X POST -H 'Content-Type: application/json' -d '{}' \
  "$BASE/api/v1/nodes/join-tokens" | jq -r .token)
[[ -n $TOKEN && $TOKEN != null ]] || { echo "http_bench: no join token" >&2; exit 1; }

# ---- 2. 125 simulated nodes ---------------------------------------------------------------------
log "starting $AGENTS agents x ${GPUS_PER_AGENT} simulated H100s"
mkdir -p "$WORK/agents"
for i in $(seq 1 "$AGENTS"); do
  "$BIN_DIR/hangar-agent" --server "$BASE" --join-token "$TOKEN" \
    --simulate "${GPUS_PER_AGENT}xH100-80GB" --name "bench-node-$i" \
    --state-dir "$WORK/agents/$i" --log-level warn >>"$WORK/agents.log" 2>&1 &
  PIDS+=("$!")
  AGENT_PIDS+=("$!")
done

# Lists every GPU id (paging with limit=1000), one per line.
list_gpu_ids() {
  local token="" page
  while :; do
    page=$(api "$BASE/api/v1/gpus?limit=1000${token:+&page_token=$token}") || return 1
    jq -r '.items[].id' <<<"$page"
    token=$(jq -r '.next_page_token // empty' <<<"$page" | jq -sRr @uri)
    [[ -n $token ]] || break
  done
}
gpu_count_reached() {
  local n
  n=$(list_gpu_ids | grep -c . || true)
  printf '\r  %d/%d GPUs' "$n" "$GPUS" >&2
  (( n >= GPUS ))
}
wait_for 180 gpu_count_reached || { echo; echo "http_bench: GPUs did not all appear" >&2; exit 1; }
echo >&2
list_gpu_ids | head -n "$GPUS" >"$WORK/ids"
log "$(wc -l <"$WORK/ids") GPUs listed"

if [[ $KEEP_AGENTS != 1 ]]; then
  log "stopping the agents (BENCH_KEEP_AGENTS=1 keeps them heartbeating)"
  for pid in "${AGENT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${AGENT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
fi

# ---- 3. the same bodies on nginx ----------------------------------------------------------------
WWW="$WORK/www"
mkdir -p "$WWW/api/v1/gpus"
log "dumping $(wc -l <"$WORK/ids") GPU bodies and the 100-item list page"
# One curl process for all ids: a config file with one url/output pair per id.
while read -r id; do
  printf 'url = "%s/api/v1/gpus/%s"\noutput = "%s/api/v1/gpus/%s"\n' "$BASE" "$id" "$WWW" "$id"
done <"$WORK/ids" >"$WORK/dump.curl"
api --config "$WORK/dump.curl" >/dev/null
api -o "$WWW/gpus-list-100.json" "$BASE/api/v1/gpus?limit=100"
[[ $(jq '.items | length' "$WWW/gpus-list-100.json") == 100 ]] || {
  echo "http_bench: the list page does not hold 100 items" >&2; exit 1; }

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
sed -e "s|@WORKERS@|$CORES|g" -e "s|@PREFIX@|$WORK/nginx|g" -e "s|@PORT@|$NGINX_PORT|g" \
  -e "s|@ROOT@|$WWW|g" "$BENCH_DIR/nginx.conf.in" >"$WORK/nginx/nginx.conf"
"$NGINX" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
  >"$WORK/nginx/stdout.log" 2>&1 &
PIDS+=("$!")
NGINX_BASE="http://127.0.0.1:$NGINX_PORT"
wait_for 10 curl -sf -o /dev/null "$NGINX_BASE/api/v1/gpus?limit=100" || {
  cat "$WORK/nginx/error.log" "$WORK/nginx/stdout.log" >&2; exit 1; }
FIRST_ID=$(head -n1 "$WORK/ids")
cmp -s <(curl -s "$NGINX_BASE/api/v1/gpus/$FIRST_ID") "$WWW/api/v1/gpus/$FIRST_ID" || {
  echo "http_bench: nginx does not serve the dumped body" >&2; exit 1; }
log "nginx on $NGINX_BASE ($CORES workers)"

# ---- 4/5. wrk -----------------------------------------------------------------------------------
RESULTS="$WORK/results.tsv"   # target scenario conns rps p50 p99 http_errors socket_errors
: >"$RESULTS"

# run_wrk TARGET SCENARIO CONNECTIONS THREADS wrk-args... ; records the BENCH line. The requests
# carry $WRK_AUTH (default: the admin key).
run_wrk() {
  local target=$1 scenario=$2 conns=$3 threads=$4; shift 4
  local out line
  out=$(wrk -t "$threads" -c "$conns" -d "$DURATION" --latency -H "${WRK_AUTH:-$AUTH}" "$@" \
    2>&1) || {
    echo "$out" >&2; return 1; }
  [[ -n ${BENCH_RAW_OUT:-} ]] && printf '## %s %s c=%s\n%s\n' "$target" "$scenario" "$conns" \
    "$out" >>"$BENCH_RAW_OUT"
  line=$(grep '^BENCH ' <<<"$out" | tail -n1)
  [[ -n $line ]] || { echo "$out" >&2; return 1; }
  field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $line"; }
  local created
  created=$(grep '^BENCH_WRITES ' <<<"$out" | sed -n 's/.* created_per_s=\([^ ]*\).*/\1/p' || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$scenario" "$conns" "$(field rps)" \
    "$(field p50_ms)" "$(field p99_ms)" "$(field http_errors)" "$(field socket_errors)" \
    "$created" >>"$RESULTS"
  log "$(printf '%-8s %-12s c=%-4s %10s req/s  p50 %s ms  p99 %s ms  http_errors %s  socket_errors %s' \
    "$target" "$scenario" "$conns" "$(field rps)" "$(field p50_ms)" "$(field p99_ms)" \
    "$(field http_errors)" "$(field socket_errors)")"
  grep -E '^BENCH_(WRITES|FIRST_BAD_BODY) ' <<<"$out" >>"$WORK/writes.txt" || true
}

# hangard and nginx alternate, so a disturbance from outside hits both sides alike; with
# BENCH_REPEAT > 1 the table shows the median of the repetitions.
for conns in $CONNECTIONS; do
  for scenario in get-by-id list-100; do
    has_scenario "$scenario" || continue
    for _ in $(seq "$REPEAT"); do
      for target in hangard nginx; do
        base=$BASE; [[ $target == nginx ]] && base=$NGINX_BASE
        if [[ $scenario == get-by-id ]]; then
          run_wrk "$target" get-by-id "$conns" "$THREADS" -s "$BENCH_DIR/get_by_id.lua" "$base" \
            -- "$WORK/ids" /api/v1/gpus/
        else
          run_wrk "$target" list-100 "$conns" "$THREADS" -s "$BENCH_DIR/list_page.lua" \
            "$base/api/v1/gpus?limit=100"
        fi
      done
    done
  done
done

: >"$WORK/writes.txt"
has_scenario create || WRITE_CONNECTIONS=""
for conns in $WRITE_CONNECTIONS; do
  threads=$THREADS; (( conns < threads )) && threads=$conns
  for rep in $(seq "$REPEAT"); do
    run_wrk hangard create "$conns" "$threads" -s "$BENCH_DIR/create_gpu_type.lua" \
      "$BASE" -- "c$conns-r$rep-$RANDOM"
  done
done

check_hangard_alive() {
  if ! kill -0 "$HANGARD_PID" 2>/dev/null; then
    echo "http_bench: hangard exited during the run:" >&2
    tail -n 50 "$WORK/hangard.log" >&2
    exit 1
  fi
}
check_hangard_alive

# ---- 6. everything on: API key and JWT (BENCH_AUTH=full) ---------------------------------------
if [[ $AUTH_MODE == full ]]; then
  # Limits far above what wrk reaches on one machine, so they are paid for but never refuse.
  FULL_FLAGS=(--rate-limit-per-key 1000000 --rate-limit-per-key-burst 10000000
              --rate-limit-per-user 1000000 --rate-limit-per-user-burst 10000000
              --rate-limit-per-address 1000000 --rate-limit-per-address-burst 10000000
              --audit true)
  # Newer servers also limit per team and per project: the same, where the flags exist.
  HELP=$("$BIN_DIR/hangard" --help 2>&1 || true)
  for scope in team project; do
    if grep -q -- "--rate-limit-per-$scope-burst" <<<"$HELP"; then
      FULL_FLAGS+=("--rate-limit-per-$scope" 1000000 "--rate-limit-per-$scope-burst" 10000000)
    fi
  done
  stop_hangard
  start_hangard "${FULL_FLAGS[@]}"

  # A service account with viewer on the organisation, one API key, and access tokens from the
  # client-credentials grant (client_id = the account, client_secret = its key; HTTP Basic).
  SA_ID=$(api -X POST -H 'Content-Type: application/json' -d '{"name":"http-bench"}' \
    "$BASE/api/v1/service-accounts" | jq -r .id)
  api -X POST -H 'Content-Type: application/json' \
    -d "{\"principal_id\":\"$SA_ID\",\"role\":\"viewer\"}" "$BASE/api/v1/role-bindings" >/dev/null
  SA_KEY=$(api -X POST -H 'Content-Type: application/json' \
    -d "{\"name\":\"http-bench\",\"owner_id\":\"$SA_ID\"}" "$BASE/api/v1/api-keys" | jq -r .secret)
  [[ $SA_ID == sa_* && $SA_KEY == hgr_* ]] || {
    echo "http_bench: could not create the service account and its key" >&2; exit 1; }
  # A fresh token before each run, so none expires (15 minutes) during a long series.
  access_token() {
    curl -sS --fail-with-body -u "$SA_ID:$SA_KEY" -d grant_type=client_credentials \
      "$BASE/oauth/token" | jq -r .access_token
  }
  JWT=$(access_token)
  [[ $JWT == eyJ* ]] || { echo "http_bench: no access token" >&2; exit 1; }
  for credential in "$KEY" "$SA_KEY" "$JWT"; do
    got=$(curl -sS --fail-with-body -D "$WORK/auth-headers" \
      -H "Authorization: Bearer $credential" "$BASE/api/v1/gpus/$FIRST_ID" | jq -r .id) || true
    [[ $got == "$FIRST_ID" ]] || {
      echo "http_bench: GET by id with ${credential:0:8}… did not answer the GPU" >&2; exit 1; }
    # The limiter is on: every answer carries its policy.
    grep -qi '^RateLimit-Policy:' "$WORK/auth-headers" || {
      echo "http_bench: no RateLimit-Policy header: are the rate limits on?" >&2; exit 1; }
  done
  log "service account $SA_ID (viewer), its API key and a JWT all read GPUs"

  for conns in $CONNECTIONS; do
    for _ in $(seq "$REPEAT"); do
      for target in nginx admin-key sa-key jwt; do
        base=$BASE
        case $target in
          nginx) base=$NGINX_BASE; WRK_AUTH=$AUTH ;;
          admin-key) WRK_AUTH=$AUTH ;;
          sa-key) WRK_AUTH="Authorization: Bearer $SA_KEY" ;;
          jwt) WRK_AUTH="Authorization: Bearer $(access_token)" ;;
        esac
        run_wrk "$target" auth-get-by-id "$conns" "$THREADS" -s "$BENCH_DIR/get_by_id.lua" \
          "$base" -- "$WORK/ids" /api/v1/gpus/
      done
    done
  done
  WRK_AUTH=$AUTH
  check_hangard_alive
fi

# ---- 7. report ----------------------------------------------------------------------------------
echo
echo "hangard $("$BIN_DIR/hangard" --version 2>/dev/null | head -n1) vs $("$NGINX" -v 2>&1)"
echo "machine: $CORES cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1))," \
  "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); wrk -t$THREADS -d$DURATION," \
  "wrk, hangard and nginx share these cores"
echo "CPU busy before the run: ${BUSY_BEFORE}%"
echo "GPUs: $(wc -l <"$WORK/ids"); agents $([[ $KEEP_AGENTS == 1 ]] && echo running || echo stopped) during the load"
echo
python3 - "$RESULTS" <<'EOF'
import sys
import statistics
raw = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
# Median of the repetitions per (target, scenario, connections); errors are summed.
groups = {}
for r in raw:
    groups.setdefault((r[0], r[1], r[2]), []).append(r)
rows = []
for key, rs in groups.items():
    med = lambda i: str(statistics.median(float(x[i] or 0) for x in rs))
    rows.append([*key, med(3), med(4), med(5), str(sum(int(x[6]) for x in rs)),
                 str(sum(int(x[7]) for x in rs)), med(8), str(len(rs))])
by_key = {(r[0], r[1], r[2]): r for r in rows}
ms = lambda r: f"{float(r[4]):.2f}/{float(r[5]):.2f}"
errors = lambda r: int(r[6]) + int(r[7])
print(f"{len(raw)} wrk runs; each figure is the median of {max(int(r[9]) for r in rows)} run(s)")
print(f"{'scenario':<10} {'conns':>5} {'hangard req/s':>14} {'nginx req/s':>12} {'ratio':>6} "
      f"{'hangard p50/p99 ms':>19} {'nginx p50/p99 ms':>17} {'errors h/n':>11}")
for r in rows:
    if r[0] != "hangard" or r[1] == "create":
        continue
    n = by_key.get(("nginx", r[1], r[2]))
    ratio = f"{float(r[3]) / float(n[3]):.2f}" if n and float(n[3]) > 0 else "-"
    print(f"{r[1]:<10} {r[2]:>5} {float(r[3]):>14.0f} {float(n[3]) if n else 0:>12.0f} "
          f"{ratio:>6} {ms(r):>19} {ms(n) if n else '-':>17} "
          f"{f'{errors(r)}/{errors(n) if n else 0}':>11}")
if any(r[1] == "create" for r in rows):
    print()
    print(f"{'durable creates':<16} {'conns':>5} {'201/s':>8} {'p50/p99 ms':>16} {'not 201':>8}")
    for r in rows:
        if r[1] == "create":
            print(f"{'POST gpu-types':<16} {r[2]:>5} {float(r[8] or 0):>8.0f} {ms(r):>16} "
                  f"{errors(r):>8}")
# BENCH_AUTH=full: GET by id with every limit on, per credential, beside the bare server's figure
# (rate limits off, admin key) from the same run; the ratio is to nginx in the same phase.
if any(r[1] == "auth-get-by-id" for r in rows):
    print()
    print("GET by id, everything on (rate limits per key/user/address, audit) vs the bare server")
    print(f"{'credential':<22} {'conns':>5} {'req/s':>9} {'vs nginx':>9} {'p50/p99 ms':>13} "
          f"{'errors':>7}")
    conns_seen = sorted({int(r[2]) for r in rows if r[1] == "auth-get-by-id"})
    labels = [("hangard", "get-by-id", "bare (limits off)"),
              ("admin-key", "auth-get-by-id", "admin API key"),
              ("sa-key", "auth-get-by-id", "service-account key"),
              ("jwt", "auth-get-by-id", "JWT (client creds)"),
              ("nginx", "auth-get-by-id", "nginx")]
    for c in conns_seen:
        for target, scenario, label in labels:
            r = by_key.get((target, scenario, str(c)))
            if not r:
                continue
            phase = scenario if scenario == "auth-get-by-id" else "get-by-id"
            n = by_key.get(("nginx", phase, str(c)))
            ratio = f"{float(r[3]) / float(n[3]):.2f}" if n and float(n[3]) > 0 else "-"
            print(f"{label:<22} {c:>5} {float(r[3]):>9.0f} {ratio:>9} {ms(r):>13} "
                  f"{errors(r):>7}")
EOF
if [[ -s $WORK/writes.txt ]]; then echo; cat "$WORK/writes.txt"; fi
if grep -qiE 'error|critical' "$WORK/hangard.log"; then
  echo; echo "hangard logged errors:"; grep -iE 'error|critical' "$WORK/hangard.log" | tail -n 20
fi
