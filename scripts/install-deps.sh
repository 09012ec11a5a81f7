#!/usr/bin/env bash
# Installs the Debian 12 packages Hangar needs, skipping what is already there (so a second run
# costs nothing and needs no network).
#   scripts/install-deps.sh            build and run (compiler, libraries, Node.js for /docs)
#   scripts/install-deps.sh --test     also what the tests need (PostgreSQL server)
#   scripts/install-deps.sh --bench    also what the benchmarks need (wrk, nginx)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libpq-dev libssl-dev zlib1g-dev libargon2-dev
  libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev tzdata
  libgtest-dev libgmock-dev libbenchmark-dev
)
for arg in "$@"; do
  case "$arg" in
    --test) packages+=(postgresql prometheus) ;;
    --bench) packages+=(wrk nginx-light curl jq python3 bc sqlite3) ;;
    *) echo "usage: $0 [--test] [--bench]" >&2; exit 2 ;;
  esac
done
# Node.js and npm fetch the docs page's assets; any installed Node.js will do.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Run this script as root (or install sudo) so it can install them." >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
