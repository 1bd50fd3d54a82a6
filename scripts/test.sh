#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the whole test suite through
# ctest: once in the release build, once under AddressSanitizer and
# UndefinedBehaviorSanitizer; then every fuzz target for a while under both
# (SLUICE_FUZZ_SECONDS each, default 20). `--fast` runs the release build
# only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
presets=(release asan)
[[ ${1:-} == --fast ]] && presets=(release)
for preset in "${presets[@]}"; do
  echo "== $preset: build" >&2
  scripts/build.sh "$preset"
  echo "== $preset: test" >&2
  ctest --preset "$preset" -j "$(nproc)"
done
if [[ ${1:-} != --fast ]]; then
  echo "== asan: fuzz" >&2
  scripts/fuzz.sh "${SLUICE_FUZZ_SECONDS:-20}"
fi
