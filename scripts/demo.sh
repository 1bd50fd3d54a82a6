#!/usr/bin/env bash
# The demo: sets up what is missing, builds, starts the mock API, writes the
# reference workload's data for a few thousand records, runs
# examples/item-features.yaml into ./out/, and shows the summary and the
# first rows of the result.
#   scripts/demo.sh [RECORDS]      (default 5000)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-5000}
scripts/setup.sh
scripts/build.sh release >/dev/null
sluice=build/release/src/sluice

data=$(mktemp -d /tmp/sluice-demo.XXXXXX)
port=$((18000 + RANDOM % 1000))
"$sluice" mock-api --write-data "$data" --records "$records"
"$sluice" mock-api --port "$port" --latency-ms 2 >"$data/mock-api.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$port/v1/items/1" && break
  sleep 0.1
done

rm -rf out
echo "== sluice run examples/item-features.yaml ($records records, mock API on port $port, 2 ms latency)"
SLUICE_DATA=$data SLUICE_API_URL=http://127.0.0.1:$port SLUICE_OUT=out \
  "$sluice" run examples/item-features.yaml --summary-json out/_summary.json
echo
echo "== sluice inspect out/item-features-00000.parquet --rows 5"
"$sluice" inspect out/item-features-00000.parquet --rows 5
