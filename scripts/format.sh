#!/usr/bin/env bash
# Formats every C++ file of the repository with clang-format-16 and the
# style in .clang-format, in place; with --check, changes nothing and fails
# naming each file that is not formatted (CI runs it so).
#   scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [[ ${1:-} == --check ]]; then
  if ! clang-format-16 --dry-run --Werror "${files[@]}" 2>/tmp/sluice-format.$$; then
    grep -o '^[^:]*:[0-9]*:[0-9]*: error' /tmp/sluice-format.$$ | cut -d: -f1 | sort -u |
      sed 's/^/format: not formatted: /' >&2
    echo "format: run scripts/format.sh to fix" >&2
    rm -f /tmp/sluice-format.$$
    exit 1
  fi
  rm -f /tmp/sluice-format.$$
  echo "format: ${#files[@]} files formatted as .clang-format says" >&2
else
  clang-format-16 -i "${files[@]}"
fi
