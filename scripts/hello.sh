#!/usr/bin/env bash
# README command 1: set up, build everything, run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
./build/release/src/cli/temporal --version
