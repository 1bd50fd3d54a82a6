#!/usr/bin/env bash
# The whole check, as CI runs it (.ci/run): sets up what is missing, checks
# the formatting, then builds each preset and runs the whole test suite
# through ctest in it: release (with clang-tidy over the sources running
# beside the tests, which leave a core idle while they wait on their
# servers), AddressSanitizer + UndefinedBehaviorSanitizer (then every fuzz
# target for SLUICE_FUZZ_SECONDS each, default 10), and ThreadSanitizer (the
# tests of code that runs on several threads; see tests/CMakeLists.txt).
# The two sanitizer builds start as soon as the release build is done, at a
# lower priority (nice): they take the CPU the tests leave idle and never
# slow a test down, and each is awaited just before its tests.
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
# The sanitizer builds, in the background below everything else: asan
# before tsan (nice 10 over nice 19), both below the tests (nice 0).
# Each in a process group of its own (job control, set -m), so that an early
# exit stops its compilers too; not in a session of its own (setsid), where
# the kernel's autogroups would give it a share equal to the tests' whatever
# its niceness.
set -m
background_build() {  # background_build PRESET NICENESS: its pid in $!
  CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) nice -n "$2" scripts/build.sh "$1" >"build/$1-build.log" 2>&1 &
}
await_build() {  # await_build PRESET PID
  if ! wait "$2"; then
    tail -50 "build/$1-build.log" >&2
    echo "the $1 build failed (the whole log: build/$1-build.log)" >&2
    exit 1
  fi
}
background_build asan 10
asan_build=$!
background_build tsan 19
tsan_build=$!
tidy=
stop_background() {
  kill -- "-$asan_build" "-$tsan_build" 2>/dev/null || true
  [[ -z $tidy ]] || kill "$tidy" 2>/dev/null || true
}
trap stop_background EXIT

phase "release: test, and clang-tidy beside it"
scripts/tidy.sh release &
tidy=$!
ctest --preset release -j "$(nproc)"
wait $tidy
tidy=

phase "asan: build (started in the background)"
await_build asan $asan_build
phase "asan: test"
ctest --preset asan -j "$(nproc)"
phase "asan: fuzz"
scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-10}"

phase "tsan: build (started in the background)"
await_build tsan $tsan_build
trap - EXIT
phase "tsan: test"
ctest --preset tsan -j "$(nproc)"
phase "done: every check passed"
