#!/usr/bin/env bash
# README command 2: set up, build with ASan+UBSan, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${TEMPORALIO_TEST_PRESET:-asan}"
scripts/setup.sh
scripts/build.sh "$preset"
ctest --preset "$preset"
