#!/usr/bin/env bash
# Runs clang-tidy-16 with the checks in .clang-tidy over sluice's own
# sources (src/, and the headers of include/ they use), with the compile
# commands of a configured build (default: release). Fails on any finding.
#   scripts/tidy.sh [PRESET] [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
db=build/$preset
[[ -f $db/compile_commands.json ]] || cmake --preset "$preset" >/dev/null
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'src/*.cc')
fi
log=$(mktemp)
if run-clang-tidy-16 -p "$db" -quiet -j "$(nproc)" "${files[@]/#/$PWD/}" >"$log" 2>&1; then
  echo "tidy: ${#files[@]} files, no finding" >&2
  rm -f "$log"
else
  grep -E '(warning|error):' "$log" | sort -u >&2 || tail -40 "$log" >&2
  echo "tidy: findings above (the whole output: $log)" >&2
  exit 1
fi
