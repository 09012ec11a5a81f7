#!/usr/bin/env bash
# fleet_ingest_bench: one hangard driven by a whole simulated fleet, every GPU sampled each second.
#   1. hangard on 127.0.0.1:0 with a fresh data dir (SQLite), rate limits off;
#   2. one hangar-agent in load mode: --simulate 8xH100-80GB --nodes NODES (default 1250: 10,000
#      GPUs), sampling every second and shipping every 5 s;
#   3. once every node is registered and ingest is steady, hangard's CPU (utime + stime from
#      /proc over MEASURE seconds, as a share of one core) and resident memory;
#   4. metric query latency over a 24-hour range (one node, 1-minute step; one GPU, 1-hour step;
#      the 24 hours before the run are backfilled into metric_rollups with sqlite3), /metrics
#      scrape time, plain and gzip (size, and time over QUERIES requests, via curl), and the
#      live view of every GPU.
# Usage: bench/fleet_ingest_bench.sh [BIN_DIR]   (default build/release/bin)
# Environment: NODES (default 1250), MEASURE (default 60), WARMUP (default 30), QUERIES (20),
# BENCH_KEEP_DIR.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=${1:-${HANGAR_BIN_DIR:-$REPO_DIR/build/release/bin}}
BIN_DIR=$(cd "$BIN_DIR" && pwd)
NODES=${NODES:-1250}
MEASURE=${MEASURE:-60}
WARMUP=${WARMUP:-30}
QUERIES=${QUERIES:-20}

for tool in curl jq bc sqlite3 "$BIN_DIR/hangard" "$BIN_DIR/hangar-agent"; do
  command -v "$tool" >/dev/null || { echo "fleet_ingest_bench: $tool not found" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hangar-fleet-bench.XXXXXX")
PIDS=()
BENCH_NAME=fleet_ingest_bench
source "$BENCH_DIR/lib.sh"
bench_traps

mkdir -p "$WORK/data"
"$BIN_DIR/hangard" --listen 127.0.0.1:0 --port-file "$WORK/port" --data-dir "$WORK/data" \
  --log-level warn --rate-limit-per-key 0 --rate-limit-per-address 0 \
  >>"$WORK/hangard.log" 2>&1 &
HANGARD_PID=$!
PIDS+=("$HANGARD_PID")
wait_for 30 test -s "$WORK/port" || { cat "$WORK/hangard.log" >&2; exit 1; }
BASE="http://$(tr -d '[:space:]' <"$WORK/port")"
KEY=$(tr -d '[:space:]' <"$WORK/data/admin-api-key")
AUTH="Authorization: Bearer $KEY"
api() { curl -sf -H "$AUTH" -H 'Content-Type: application/json' "$@"; }

TOKEN=$(api -X POST "$BASE/api/v1/nodes/join-tokens" -d '{"description":"bench"}' | jq -r .token)
log "starting $NODES simulated nodes ($(( NODES * 8 )) GPUs)"
"$BIN_DIR/hangar-agent" --server "$BASE" --join-token "$TOKEN" --simulate 8xH100-80GB \
  --nodes "$NODES" --name bench --state-dir "$WORK/agent" --log-level warn \
  >>"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
registered() {
  local n
  n=$(api "$BASE/api/v1/gpus/live" | jq '[.items[] | select(.sampled_at != null)] | length')
  (( n >= NODES * 8 ))
}
wait_for 600 registered || { log "not every GPU reported"; tail "$WORK/agent.log" >&2; exit 1; }
log "all $(( NODES * 8 )) GPUs report; warming up ${WARMUP}s"
sleep "$WARMUP"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$HANGARD_PID/stat"; }
hz=$(getconf CLK_TCK)
accepted() {
  curl -sf "$BASE/metrics" | awk '/^hangar_gpu_metric_points_accepted_total/ {print $2}'
}
t0=$(cpu_ticks); a0=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"); p0=$(accepted)
s0=$SECONDS
sleep "$MEASURE"
t1=$(cpu_ticks); a1=$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"); p1=$(accepted)
s1=$SECONDS
cores=$(echo "($t1 - $t0) / $hz / ($s1 - $s0)" | bc -l)
rate=$(echo "($p1 - $p0) / ($s1 - $s0)" | bc -l)
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$HANGARD_PID/status")
printf 'ingest: %.0f samples/s; hangard CPU %.2f cores; RSS %.0f MiB\n' "$rate" "$cores" \
  "$(echo "$rss_kib / 1024" | bc -l)"
printf 'load-mode agent (%d nodes): CPU %.2f cores\n' "$NODES" \
  "$(echo "($a1 - $a0) / $hz / ($s1 - $s0)" | bc -l)"

NODE_ID=$(api "$BASE/api/v1/nodes?limit=1" | jq -r '.items[0].id')
GPU_ID=$(api "$BASE/api/v1/gpus?limit=1" | jq -r '.items[0].id')
# The run fills only its own minutes: give the queried node and GPU the 24 hours before it, as
# 1-minute and 1-hour rows like the ones hangard writes (a node: 8 GPUs' samples per bucket).
DB="$WORK/data/hangar.db"
ORG=$(sqlite3 "$DB" "SELECT org_id FROM nodes LIMIT 1")
backfill() {  # scope id, resolution (s), samples per minute
  local scope=$1 res=$2 per_min=$3
  local n=$(( per_min * res / 60 ))
  sqlite3 -cmd ".timeout 10000" "$DB" "
    WITH RECURSIVE b(t) AS (
      SELECT (CAST(strftime('%s','now') AS INTEGER) / $res) * $res - 86400
      UNION ALL SELECT t + $res FROM b
      WHERE t + $res < (CAST(strftime('%s','now') AS INTEGER) / 60) * 60 - 900)
    INSERT OR IGNORE INTO metric_rollups SELECT '$scope', $res, t, '$ORG', $n, $n,
      0, 100, 50.0 * $n, 0, 81559, 40000.0 * $n, 30, 80, 55.0 * $n,
      60, 700, 380.0 * $n, 345, 1980, 1200.0 * $n FROM b;"
}
backfill "$NODE_ID" 60 480
backfill "$NODE_ID" 3600 480
backfill "$GPU_ID" 60 60
backfill "$GPU_ID" 3600 60
log "backfilled 24 h of roll-ups for $NODE_ID and $GPU_ID"
from=$(date -u -d '-24 hours' +%Y-%m-%dT%H:%M:%SZ)
timed() {  # prints p50 and max of QUERIES runs of curl on $1, in ms
  local url=$1
  for _ in $(seq "$QUERIES"); do
    curl -sf -o /dev/null -w '%{time_total}\n' -H "$AUTH" "$url"
  done | sort -n | awk '{a[NR]=$1} END {printf "p50 %.1f ms, max %.1f ms", a[int((NR+1)/2)]*1000, a[NR]*1000}'
}
echo "query node 24 h, 1-minute step: $(timed "$BASE/api/v1/nodes/$NODE_ID/metrics?from=$from&step=1m")"
echo "query GPU 24 h, 1-hour step: $(timed "$BASE/api/v1/gpus/$GPU_ID/metrics?from=$from&step=1h")"
echo "query GPU last 10 min raw, 1 s step: $(timed "$BASE/api/v1/gpus/$GPU_ID/metrics?step=1s")"
size=$(curl -sf "$BASE/metrics" | wc -c)
echo "/metrics scrape ($(( size / 1024 )) KiB): $(timed "$BASE/metrics")"
gz=$(curl -sf -H 'Accept-Encoding: gzip' "$BASE/metrics" | wc -c)
timed_gzip() {
  for _ in $(seq "$QUERIES"); do
    curl -sf -o /dev/null -H 'Accept-Encoding: gzip' -w '%{time_total}\n' "$1"
  done | sort -n | awk '{a[NR]=$1} END {printf "p50 %.1f ms, max %.1f ms", a[int((NR+1)/2)]*1000, a[NR]*1000}'
}
echo "/metrics scrape gzip, as Prometheus asks ($(( gz / 1024 )) KiB): $(timed_gzip "$BASE/metrics")"
echo "live view of every GPU: $(timed "$BASE/api/v1/gpus/live")"
