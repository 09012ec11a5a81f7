#!/usr/bin/env bash
# The README's first command: a working Hangar on this machine in one step.
#
# Installs missing Debian packages, builds in release mode, starts hangard on a SQLite file
# under .hangar/ and one hangar-agent with 8 simulated H100-80GB GPUs, and stays in the
# foreground until Ctrl-C, which stops both cleanly. Running it again reuses the build and the
# data (the organisation, admin key, node and GPUs are kept).
#
# Environment: HANGAR_LISTEN (default 127.0.0.1:8080), HANGAR_SIMULATE (default 8xH100-80GB),
# HANGAR_DATA_DIR (default .hangar).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

listen="${HANGAR_LISTEN:-127.0.0.1:8080}"
simulate="${HANGAR_SIMULATE:-8xH100-80GB}"
data="${HANGAR_DATA_DIR:-$root/.hangar}"
bin="$root/build/release/bin"

scripts/install-deps.sh
scripts/build.sh release

mkdir -p "$data"
chmod 700 "$data"
rm -f "$data/hangard.addr"

hangard_pid="" agent_pid=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "Stopping…"
  [[ -n "$agent_pid" ]] && kill -TERM "$agent_pid" 2>/dev/null || true
  [[ -n "$hangard_pid" ]] && kill -TERM "$hangard_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "Stopped. Data is kept in $data; run this command again to resume."
}
trap stop INT TERM EXIT

# Each unset HANGAR_* variable leaves hangard on its defaults; the data stays in $data.
"$bin/hangard" --listen "$listen" --data-dir "$data" --port-file "$data/hangard.addr" \
  >>"$data/hangard.log" 2>&1 &
hangard_pid=$!
for _ in $(seq 1 100); do
  [[ -s "$data/hangard.addr" ]] && break
  kill -0 "$hangard_pid" 2>/dev/null || { tail -20 "$data/hangard.log"; exit 1; }
  sleep 0.1
done
[[ -s "$data/hangard.addr" ]] || { echo "hangard did not start; see $data/hangard.log"; exit 1; }
url="http://$(cat "$data/hangard.addr")"
key_file="$data/admin-api-key"
cli=("$bin/hangar" --url "$url" --token-file "$key_file")

# A fresh join token each run; the agent keeps its node credential in its state directory, so a
# second run resumes the same node.
umask 077
"${cli[@]}" join-tokens create --description "quickstart agent" --ttl 1h -q >"$data/join-token"
"$bin/hangar-agent" --server "$url" --join-token-file "$data/join-token" --simulate "$simulate" \
  --name local-sim-1 --state-dir "$data/agent" >>"$data/agent.log" 2>&1 &
agent_pid=$!

for _ in $(seq 1 100); do
  nodes=$("${cli[@]}" nodes list -o json 2>/dev/null || true)
  [[ "$nodes" == *'"state":"ready"'* || "$nodes" == *'"state": "ready"'* ]] && break
  kill -0 "$agent_pid" 2>/dev/null || { tail -20 "$data/agent.log"; exit 1; }
  sleep 0.1
done

cat <<MSG

Hangar is running.
  API:               $url/api/v1
  Docs:              $url/docs
  Admin credential:  $key_file   (an API key; keep it private)
  Logs:              $data/hangard.log, $data/agent.log

Try, in another terminal:
  build/release/bin/hangar --url $url --token-file $key_file gpus list
  build/release/bin/hangar --url $url --token-file $key_file nodes list -o yaml

Ctrl-C stops hangard and the agent.
MSG
wait "$hangard_pid"
