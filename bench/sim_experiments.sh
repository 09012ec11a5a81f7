#!/usr/bin/env bash
# hangar-sim experiments on the shared Alibaba openb trace (docs/simulator.md):
#   1. the FGD packing experiment (best-fit, fgd and random, seeds 42-51, load 1.3);
#   2. the queueing experiments: time-based replay at offered loads 0.7, 0.9 and 1.1 with the
#      four policies fifo, fifo-easy, sjf and hangar, each writing a Markdown table, a JSON file
#      and an SVG chart of queue length and GPU allocation over time. Twice: on the trace's whole
#      cluster as the issue words it (81 pods of more than a day hold 91 % of its GPU-time, so
#      little ever queues), and on 2 % of the cluster with run times capped at a day
#      ("contended"), where queues form.
#
# Usage: bench/sim_experiments.sh OUT_DIR [HANGAR_SIM] [TRACE]
#   OUT_DIR     where the results go (created)
#   HANGAR_SIM  the binary (default: build/release/bin/hangar-sim)
#   TRACE       the trace (default: ../shared/traces/openb_pod_list_default.csv)
# Extra replay flags can be passed in REPLAY_FLAGS, e.g. REPLAY_FLAGS="--pass-interval 10".
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 OUT_DIR [HANGAR_SIM] [TRACE]" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
sim="${2:-$root/build/release/bin/hangar-sim}"
trace="${3:-$root/../shared/traces/openb_pod_list_default.csv}"
policies="fifo,fifo-easy,sjf,hangar"
mkdir -p "$out"

if [[ ! -x "$sim" ]]; then
  echo "$0: no hangar-sim at $sim (build the hangar-sim target first)" >&2
  exit 2
fi
if [[ ! -r "$trace" ]]; then
  echo "$0: cannot read the trace $trace" >&2
  exit 2
fi

{
  echo "# hangar-sim experiments"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores, $(uname -sr)"
  echo "- binary: $sim"
  echo "- trace: $trace"
  echo "- replay flags: ${REPLAY_FLAGS:-(none)}"
} > "$out/README.md"

echo "== packing (FGD protocol) =="
"$sim" pack --trace "$trace" --policy best-fit,fgd,random --seeds 42-51 --load 1.3 \
  | tee "$out/packing.md"

for setup in full contended; do
  flags=""
  [[ $setup == contended ]] && flags="--cluster-fraction 0.02 --max-duration 86400"
  for load in 0.7 0.9 1.1; do
    echo "== replay, $setup cluster, load $load =="
    name="replay-$setup-load-$load"
    # shellcheck disable=SC2086  # flags and REPLAY_FLAGS are lists of flags
    /usr/bin/time -f "%e s wall, %M KiB max RSS" \
      "$sim" replay --trace "$trace" --load "$load" --policies "$policies" \
      --json "$out/$name.json" --svg "$out/$name.svg" $flags ${REPLAY_FLAGS:-} 2>&1 \
      | tee "$out/$name.md"
  done
done

echo "results in $out"
