#!/usr/bin/env bash
# Job submission benchmarks (issue 5), and the same figures for a real Slurm when one runs here.
#
#   bench/jobs_bench.sh [BIN_DIR]        (default: $HANGAR_BIN_DIR, else build/release/bin)
#
# Builds nothing. One run:
#   1. hangard on 127.0.0.1:0 with a fresh data dir (SQLite, synchronous=FULL), rate limits off,
#      log level warn; one hangar-agent with 8 simulated H100s; a team and a project.
#   2. submit -> start on the idle cluster: N_START jobs (`true`, 1 GPU) one after another;
#      for each, the time from the client sending POST to the agent starting the process (the
#      job's started_at; client and agent share this host's clock). p50/p90/p99/max.
#   3. durable submissions: wrk POSTs held jobs (`{"command":["true"],"hold":true}`, the same
#      workload as Slurm's `sbatch --hold --wrap true`) at 1 and 64 connections; only
#      201 Created counts.
#   4. crash durability: 8 client threads submit for CRASH_AFTER seconds, hangard is killed
#      with SIGKILL mid-stream and restarted on the same data; every job that was acknowledged
#      (201) must still be there.
#   5. with SLURM=1 and a Slurm peer from ../shared/tools/slurm/setup.sh running: its bench.sh
#      (phases read, par, run, crash) right after, so both sets come from one sitting.
#
# Environment: BENCH_DURATION (wrk -d, default 10s), BENCH_WRITE_CONNECTIONS (default "1 64"),
# N_START (default 200), CRASH_AFTER (default 2), SLURM (default 0), BENCH_KEEP_DIR.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BIN_DIR=${1:-${HANGAR_BIN_DIR:-$REPO_DIR/build/release/bin}}
BIN_DIR=$(cd "$BIN_DIR" && pwd)
DURATION=${BENCH_DURATION:-10s}
WRITE_CONNECTIONS=${BENCH_WRITE_CONNECTIONS:-"1 64"}
N_START=${N_START:-200}
CRASH_AFTER=${CRASH_AFTER:-2}

for tool in wrk curl jq python3 "$BIN_DIR/hangard" "$BIN_DIR/hangar-agent"; do
  command -v "$tool" >/dev/null || { echo "jobs_bench: $tool not found" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hangar-jobs-bench.XXXXXX")
PIDS=()
BENCH_NAME=jobs_bench
source "$BENCH_DIR/lib.sh"
bench_traps

start_hangard() {
  rm -f "$WORK/port"
  "$BIN_DIR/hangard" --listen 127.0.0.1:0 --port-file "$WORK/port" --data-dir "$WORK/data" \
    --log-level warn --rate-limit-per-key 0 --rate-limit-per-address 0 \
    >>"$WORK/hangard.log" 2>&1 &
  HANGARD_PID=$!
  PIDS+=("$HANGARD_PID")
  wait_for 30 test -s "$WORK/port" || { cat "$WORK/hangard.log" >&2; exit 1; }
  BASE="http://$(tr -d '[:space:]' <"$WORK/port")"
}

# ---- 1. hangard, an agent, a project -------------------------------------------------------------
mkdir -p "$WORK/data"
start_hangard
KEY=$(tr -d '[:space:]' <"$WORK/data/admin-api-key")
AUTH="Authorization: Bearer $KEY"
api() { curl -sf -H "$AUTH" -H 'Content-Type: application/json' "$@"; }
TEAM=$(api -d '{"name":"bench"}' "$BASE/api/v1/teams" | jq -r .id)
PROJECT=$(api -d "{\"name\":\"bench\",\"team_id\":\"$TEAM\"}" "$BASE/api/v1/projects" | jq -r .id)
JOIN=$(api -d '{"description":"bench"}' "$BASE/api/v1/nodes/join-tokens" | jq -r .token)
"$BIN_DIR/hangar-agent" --server "$BASE" --join-token "$JOIN" --simulate 8xH100-80GB \
  --name bench-1 --state-dir "$WORK/agent" --log-level warn >>"$WORK/agent.log" 2>&1 &
PIDS+=($!)
wait_for 30 sh -c "curl -sf -H '$AUTH' '$BASE/api/v1/nodes' | grep -q '\"ready\"'"
log "hangard on $BASE, agent ready, project $PROJECT"

# ---- 2. submit -> start on the idle cluster (before the queue fills with held jobs) ----------
python3 - "$BASE" "$KEY" "$PROJECT" "$N_START" >"$WORK/start.txt" <<'PY'
import http.client, json, sys, time, urllib.parse, datetime
base, key, project, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host = urllib.parse.urlparse(base).netloc
conn = http.client.HTTPConnection(host)
H = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
def call(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=H)
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"{}")
def ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
lat = []
for i in range(n):
    t0 = time.time()
    status, job = call("POST", "/api/v1/jobs", {"project": project, "command": ["true"]})
    assert status == 201, job
    while True:
        status, job = call("GET", "/api/v1/jobs/" + job["id"])
        if job["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.002)
    assert job["state"] == "succeeded", job
    lat.append((ts(job["started_at"]) - t0) * 1000)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
print("START n=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f" %
      (n, pct(50), pct(90), pct(99), lat[-1]))
PY
log "$(cat "$WORK/start.txt")"

# ---- 3. durable submissions ------------------------------------------------------------------
declare -A SUBMIT_RATE SUBMIT_LAT
for c in $WRITE_CONNECTIONS; do
  log "wrk: POST /api/v1/jobs, $c connection(s), $DURATION"
  out=$(wrk -t "$(( c < 2 ? 1 : 2 ))" -c "$c" -d "$DURATION" -H "$AUTH" \
        -s "$BENCH_DIR/submit_job.lua" "$BASE" -- "$PROJECT")
  echo "$out" >>"$WORK/wrk.log"
  SUBMIT_RATE[$c]=$(sed -n 's/.*created_per_s=\([0-9.]*\).*/\1/p' <<<"$out")
  SUBMIT_LAT[$c]=$(sed -n 's/^BENCH .*p50_ms=\([0-9.]*\) p99_ms=\([0-9.]*\).*/\1 \/ \2/p' <<<"$out")
  bad=$(sed -n 's/.*not_created=\([0-9]*\).*/\1/p' <<<"$out")
  [[ "$bad" == "0" ]] || { echo "jobs_bench: $bad submissions not acknowledged" >&2; echo "$out" >&2; }
done

# ---- 4. crash durability ------------------------------------------------------------------------
log "crash: 8 submitters for ${CRASH_AFTER}s, then SIGKILL hangard"
python3 - "$BASE" "$KEY" "$PROJECT" >"$WORK/acked.txt" <<'PY' &
import http.client, json, sys, threading, urllib.parse
base, key, project = sys.argv[1], sys.argv[2], sys.argv[3]
host = urllib.parse.urlparse(base).netloc
H = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
body = json.dumps({"project": project, "command": ["true"], "hold": True})
lock = threading.Lock()
def submit():
    conn = http.client.HTTPConnection(host, timeout=5)
    while True:
        try:
            conn.request("POST", "/api/v1/jobs", body=body, headers=H)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            return  # the server is gone
        if r.status == 201:
            with lock:
                print(json.loads(data)["id"], flush=True)
threads = [threading.Thread(target=submit) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
PY
SUBMITTERS=$!
sleep "$CRASH_AFTER"
kill -KILL "$HANGARD_PID"
wait "$SUBMITTERS" || true
ACKED=$(wc -l <"$WORK/acked.txt")
start_hangard
FOUND=0
while read -r id; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$BASE/api/v1/jobs/$id")
  [[ "$code" == "200" ]] && FOUND=$((FOUND + 1))
done <"$WORK/acked.txt"
log "crash: $ACKED acknowledged before SIGKILL, $FOUND found after restart"

# ---- 5. the Slurm peer, in the same sitting --------------------------------------------------------
SLURM_OUT=""
if [[ "${SLURM:-0}" == "1" ]]; then
  SLURM_DIR=$(cd "$REPO_DIR/../shared/tools/slurm" && pwd)
  log "Slurm peer: $SLURM_DIR/bench.sh (phases read par run crash)"
  SLURM_OUT=$(PHASES="read par run crash" "$SLURM_DIR/bench.sh" 2>&1 | tail -40)
fi

cat <<TABLE

## Job submission (bench/jobs_bench.sh, $(date -u +%Y-%m-%d), $(nproc) cores)
| measurement | Hangar |
|---|---|
$(for c in $WRITE_CONNECTIONS; do echo "| durable submissions, $c connection(s) | ${SUBMIT_RATE[$c]} jobs/s (p50 / p99 ${SUBMIT_LAT[$c]} ms) |"; done)
| submit -> process start, idle cluster | $(sed 's/START //' "$WORK/start.txt") |
| SIGKILL while 8 clients submit | $ACKED acknowledged, $FOUND present after restart |
TABLE
if [[ -n "$SLURM_OUT" ]]; then
  echo
  echo "Slurm peer (same sitting):"
  echo "$SLURM_OUT"
fi
