#!/usr/bin/env bash
# Fetches the docs page's npm packages (when missing or changed) and builds one CMake preset.
#   scripts/build.sh [release|debug|asan]      (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"

stamp=web/docs/node_modules/.package-lock.json
if [[ ! -f "$stamp" || web/docs/package-lock.json -nt "$stamp" ]]; then
  npm ci --prefix web/docs --no-audit --no-fund --loglevel=error
fi
if [[ ! -f "build/$preset/build.ninja" ]]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build --preset "$preset"
