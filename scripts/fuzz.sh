#!/usr/bin/env bash
# Runs every libFuzzer target of the asan build for SECONDS each (default
# 20), as many at once as there are cores, starting from its seed corpus and
# the inputs that once failed it (tests/fuzz/corpus/<target>,
# tests/fuzz/regressions/<target>; copied: the repository is not written).
# A finding fails the run: the input that crashed is kept under
# build/asan/fuzz-findings/ and the exit status is non-zero. Every finding
# becomes a regression test: its input goes into
# tests/fuzz/regressions/<target>/, which sluice_fuzz_replay runs in every
# build.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
bin=build/asan/tests/fuzz
findings=build/asan/fuzz-findings
mkdir -p "$findings"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

fuzz_one() {  # fuzz_one TARGET: one target for $seconds; its report on stderr
  local target=$1 name work before start runs
  name=$(basename "$target")
  work=$(mktemp -d "/tmp/sluice-$name.XXXXXX")
  cp tests/fuzz/corpus/"$name"/* "$work"/
  if [[ -d tests/fuzz/regressions/$name ]]; then cp tests/fuzz/regressions/"$name"/* "$work"/; fi
  before=$(ls "$work" | wc -l)
  start=$SECONDS
  if ! "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
       -artifact_prefix="$findings/$name-" -print_final_stats=1 "$work" >"$work.log" 2>&1; then
    { echo "fuzz: $name found a problem; the input is in $findings/"; tail -60 "$work.log"; } >&2
    return 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz: $name: $runs inputs in $((SECONDS - start)) s, corpus $before -> $(ls "$work" | wc -l), no finding" >&2
  rm -rf "$work" "$work.log"
}

began=$SECONDS
jobs=$(nproc)
failed=0
running=0
for target in "$bin"/fuzz_*; do
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
if ((failed)); then
  echo "fuzz: a target found a problem (above)" >&2
  exit 1
fi
echo "fuzz: every target ran for $seconds s, $jobs at a time, $((SECONDS - began)) s in all, no finding" >&2
