#!/usr/bin/env bash
# Two builds of sluice side by side on the reference workload, to tell whether
# a change pays: runs alternate (A, B, A, B, ...) against one mock API, so
# that the machine's load falls on both alike, and the medians are compared.
#
#   bench/ab.sh BIN_A BIN_B [N] [IN_FLIGHT] [ROUNDS] [LATENCY_MS]
#   defaults: 20000 256 5 5
#
# For example, the change in the working tree against the last commit:
#   cp build/release/src/sluice /tmp/sluice-b; git stash; scripts/build.sh release
#   cp build/release/src/sluice /tmp/sluice-a; git stash pop; bench/ab.sh /tmp/sluice-a /tmp/sluice-b
#
# MOCK_FLAGS="--gzip ..." passes flags to the mock API (run from BIN_B, the
# newer build as a rule); SLUICE_SET="a.b=v c.d=w" passes --set to both runs.
#
# Prints each run (records/s, CPU us per record of sluice's process, peak RSS
# in MiB), then the medians and B/A.
set -euo pipefail
cd "$(dirname "$0")/.."
a=${1:?BIN_A}
b=${2:?BIN_B}
n=${3:-20000}
c=${4:-256}
rounds=${5:-5}
lat=${6:-5}
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
work=$(mktemp -d /tmp/sluice-ab.XXXXXX)
"$b" mock-api --write-data "$work/data" --records "$n" >/dev/null
port=$((19500 + RANDOM % 400))
# shellcheck disable=SC2086 # MOCK_FLAGS is a list of flags
"$b" mock-api --port "$port" --latency-ms "$lat" ${MOCK_FLAGS:-} >"$work/mock.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/items/1" && break; sleep 0.1; done

sets=()
for s in ${SLUICE_SET:-}; do sets+=(--set "$s"); done
measure() {  # measure NAME BIN
  rm -rf "$work/out"
  /usr/bin/time -v -o "$work/time" "$2" run examples/item-features.yaml -q \
    --set "input.path=$work/data/records.csv" --set "datasets.entities.path=$work/data/entities.csv" \
    --set "http.base_url=http://127.0.0.1:$port" --set "http.max_in_flight=$c" --set "output.path=$work/out" \
    "${sets[@]}" >"$work/run.log" 2>&1 || { echo "$1 failed:" >&2; tail -5 "$work/run.log" >&2; exit 1; }
  awk -v n="$n" -v name="$1" -F': ' '
    /User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2}
    /Elapsed \(wall clock\)/ { k = split($2, p, ":"); w = 0; for (i = 1; i <= k; i++) w = w * 60 + p[i] }
    END { printf "%s %.0f %.1f %.1f\n", name, n / w, (u + s) / n * 1e6, r / 1024 }' "$work/time" | tee -a "$work/results"
}
for _ in $(seq "$rounds"); do
  measure A "$a"
  measure B "$b"
done
python3 - "$work/results" "$n" "$c" "$lat" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda name, i: st.median(float(r[i]) for r in rows if r[0] == name)
print(f"N={sys.argv[2]} in_flight={sys.argv[3]} latency={sys.argv[4]}ms, medians of {len(rows)//2} rounds:")
for name in ("A", "B"):
    print(f"  {name} {med(name,1):8.0f} records/s {med(name,2):7.1f} us CPU/record {med(name,3):6.1f} MiB peak RSS")
print(f"  B/A: records/s {med('B',1)/med('A',1):.3f}x, CPU/record {med('B',2)/med('A',2):.3f}x, "
      f"peak RSS {med('B',3)/med('A',3):.3f}x")
PY
