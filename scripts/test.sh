#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): sets up what is missing, checks
# the formatting, then builds each preset and runs the whole test suite
# through ctest in it: release (with clang-tidy over the sources running
# beside the tests, which leave a core idle while they wait on their
# servers), AddressSanitizer + UndefinedBehaviorSanitizer (then every fuzz
# target for SLUICE_FUZZ_SECONDS each, default 10), and ThreadSanitizer (the
# tests of code that runs on several threads; see tests/CMakeLists.txt).
# Each phase is printed with the seconds since the start.
#   scripts/test.sh [--fast]     # --fast: format, release build and tests only
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
[[ ${1:-} == --fast ]] && fast=1
began=$SECONDS
phase() { echo "== [$((SECONDS - began)) s] $*" >&2; }

phase setup
scripts/setup.sh
phase format
scripts/format.sh --check

phase "release: build"
scripts/build.sh release
if ((fast)); then
  phase "release: test"
  ctest --preset release -j "$(nproc)"
  phase "done: formatting and release tests passed"
  exit 0
fi
phase "release: test, and clang-tidy beside it"
scripts/tidy.sh release &
tidy=$!
trap 'kill $tidy 2>/dev/null || true' EXIT
ctest --preset release -j "$(nproc)"
wait $tidy
trap - EXIT

phase "asan: build"
scripts/build.sh asan
phase "asan: test"
ctest --preset asan -j "$(nproc)"
phase "asan: fuzz"
scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-10}"

phase "tsan: build"
scripts/build.sh tsan
phase "tsan: test"
ctest --preset tsan -j "$(nproc)"
phase "done: every check passed"
