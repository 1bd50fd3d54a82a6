#!/usr/bin/env bash
# sluice's Parquet writer next to DuckDB's, same rows, same codec, one thread
# each, in one run. Usage: bench/parquet_vs_duckdb.sh [ROWS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
scripts/build.sh release >/dev/null
build/release/bench/parquet_benchmark "$rows" "$dir" | tee "$dir/sluice.txt"
(cd tests/interop && node duckdb_copy_bench.mjs "$dir/input.parquet" "$dir") | tee "$dir/duckdb.txt"
for codec in zstd snappy; do
  s=$(grep "^sluice $codec" "$dir/sluice.txt"); d=$(grep "^duckdb $codec" "$dir/duckdb.txt")
  get() { sed -E "s/.*$2=([0-9.]+).*/\1/" <<<"$1"; }
  awk -v c="$codec" -v sr="$(get "$s" rows_per_s)" -v dr="$(get "$d" rows_per_s)" \
      -v sb="$(get "$s" file_bytes)" -v db="$(get "$d" file_bytes)" \
      'BEGIN { printf "%s: sluice/duckdb rows/s = %.2fx, file size = %.3fx\n", c, sr / dr, sb / db }'
done
