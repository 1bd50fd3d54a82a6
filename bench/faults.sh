#!/usr/bin/env bash
# The reference workload against an API that fails a share of its requests,
# next to the same run against one that does not: how much longer faults
# make a run, and that none of them costs a record.
#
#   bench/faults.sh [N] [ROUNDS] [LATENCY_MS]     defaults: 5000 3 2
#
# Each round runs every case once, in turn, each against a fresh mock API
# (a path fails at most twice, as the mock's default), so that the machine's
# load falls on all of them alike. Prints each run, then per case the median
# wall time, its ratio to the fault-free median, and the dead letters,
# outages and budget waits the summaries counted.
# SLUICE_BIN names the binary (default: the release build's).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
rounds=${2:-3}
lat=${3:-2}
sluice=${SLUICE_BIN:-build/release/src/sluice}
[ -x "$sluice" ] || { echo "faults.sh: build the release preset first (or set SLUICE_BIN)" >&2; exit 2; }
work=$(mktemp -d /tmp/sluice-faults.XXXXXX)
server=
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
"$sluice" mock-api --write-data "$work/data" --records "$n" >/dev/null

cases=(
  "none|"
  "500s 30%|--fault-500 0.3"
  "malformed 30%|--fault-malformed 0.3"
  "429s 30% (Retry-After 1 s)|--fault-429 0.3 --retry-after 1"
  "mixed|--fault-500 0.3 --fault-close 0.1 --fault-malformed 0.05 --fault-slow 0.02 --fault-429 0.03"
)
for r in $(seq "$rounds"); do
  for c in "${cases[@]}"; do
    name=${c%%|*} flags=${c#*|}
    port=$((20000 + RANDOM % 2000))
    # shellcheck disable=SC2086 # flags is a list of flags
    "$sluice" mock-api --port "$port" --latency-ms "$lat" --seed "$r" $flags >"$work/mock.log" 2>&1 &
    server=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/items/1" && break; sleep 0.1; done
    rm -rf "$work/out"
    t0=$(date +%s%N)
    rc=0
    "$sluice" run examples/item-features.yaml --summary-json "$work/summary.json" \
      --set "input.path=$work/data/records.csv" --set "datasets.entities.path=$work/data/entities.csv" \
      --set "http.base_url=http://127.0.0.1:$port" --set "output.path=$work/out" >"$work/run.log" 2>&1 || rc=$?
    t1=$(date +%s%N)
    kill "$server"
    wait "$server" 2>/dev/null || true
    python3 - "$work/summary.json" "$name" "$rc" "$t0" "$t1" <<'PY' | tee -a "$work/results"
import json, sys
s = json.load(open(sys.argv[1]))
q = s["requests"]
print("\t".join([sys.argv[2], sys.argv[3], f"{(int(sys.argv[5]) - int(sys.argv[4])) / 1e9:.3f}",
                 str(s["records"]["dead_lettered"]), str(q["outages"]), str(q["budget_waits"])]))
PY
  done
done
python3 - "$work/results" "$n" "$lat" <<'PY'
import statistics as st, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
names = list(dict.fromkeys(r[0] for r in rows))
wall = {k: st.median(float(r[2]) for r in rows if r[0] == k) for k in names}
print(f"N={sys.argv[2]} latency={sys.argv[3]} ms, medians of {len(rows) // len(names)} rounds:")
for k in names:
    rs = [r for r in rows if r[0] == k]
    print(f"  {k:28} {wall[k]:7.2f} s  {wall[k] / wall['none']:5.2f}x  exit {','.join(sorted(set(r[1] for r in rs)))}"
          f"  dead {max(int(r[3]) for r in rs)}  outages {max(int(r[4]) for r in rs)}"
          f"  budget waits {max(int(r[5]) for r in rs)}")
PY
