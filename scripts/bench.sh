#!/usr/bin/env bash
# Builds the release binaries and runs every benchmark (bench/README.md):
# C++ worker vs the official TypeScript worker against our dev server.
#
#   scripts/bench.sh [--smoke] [--build-dir DIR] [--no-build] [bench.js options...]
#
# --smoke runs each benchmark for a few seconds (CTest `bench.smoke`, label
# `bench`); the full run takes ~25 minutes. Tables go to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
build_dir="$root/build/release"
build=1
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(cd "$2" && pwd)"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

if [[ $build == 1 ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target temporal temporal_bench
  build_dir="$root/build/release"
fi

if [[ ! -e interop/node_modules/@temporalio/worker/package.json ]]; then
  echo "bench: interop/node_modules is missing; run scripts/setup.sh" >&2
  exit 1
fi
# bench/ts resolves the TS SDK from interop/ (one pinned install).
if [[ ! -e bench/ts/node_modules ]]; then
  ln -s ../../interop/node_modules bench/ts/node_modules
fi

exec node bench/bench.js --bin-dir "$build_dir" ${args[@]+"${args[@]}"}
