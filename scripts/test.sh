#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): sets up what is missing, checks
# the formatting, then builds each preset and runs the whole test suite
# through ctest in it: release, AddressSanitizer + UndefinedBehaviorSanitizer
# (then every fuzz target for SLUICE_FUZZ_SECONDS each, default 10), and
# ThreadSanitizer (the tests of code that runs on several threads; see
# tests/CMakeLists.txt). clang-tidy runs over the sources from the release
# build to the end, below everything else (nice), on the CPU the tests leave
# idle while they wait on their servers and timers; tests run two per core
# for the same reason (the release suite passed 20 runs in a row so, beside a
# ThreadSanitizer build and run).
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
jobs=$((2 * $(nproc)))
# clang-tidy, in a process group of its own (job control) so that an early
# exit stops it, in the tests' session so that its niceness holds (the
# kernel's autogroups give a new session the same share as the tests').
set -m
nice -n 19 scripts/tidy.sh release >build/tidy.log 2>&1 &
tidy=$!
trap 'kill -- "-$tidy" 2>/dev/null || true' EXIT

phase "release: test (clang-tidy runs in the background)"
ctest --preset release -j "$jobs"

phase "asan: build"
scripts/build.sh asan
phase "asan: test"
ctest --preset asan -j "$jobs"
phase "asan: fuzz"
scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-10}"

phase "tsan: build"
scripts/build.sh tsan
phase "tsan: test"
ctest --preset tsan -j "$jobs"

phase "clang-tidy: the rest"
if ! wait "$tidy"; then
  cat build/tidy.log >&2
  exit 1
fi
trap - EXIT
cat build/tidy.log >&2
phase "done: every check passed"
