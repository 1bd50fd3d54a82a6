#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the example pipeline.
# Extra arguments go to `sluice demo` (see `build/release/src/sluice help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null
exec build/release/src/sluice demo "$@"
