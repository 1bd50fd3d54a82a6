#!/usr/bin/env bash
# sluice serve under open-loop load (bench/serve_load.cc: Poisson arrivals,
# latency from each request's scheduled time), against the mock API at a
# fixed latency, on this machine:
#
#   bench/serve_bench.sh [SECONDS] [API_LATENCY_MS]     defaults: 10 10
#
# 1. Added latency: at 20 (a lone request at a time), 500 and 1,000 records/s,
#    the same arrivals are sent to the API directly (a record's item, then all
#    its pages at once: the upstream critical path as this machine serves it
#    under that load) and to sluice serve, alternately; the percentiles of
#    both, and sluice's less the API's.
# 2. Saturation: `sluice run` on 20,000 records (256 in flight) gives the
#    pipeline's records/s here; serve is offered 0.5x, 0.6x, ... of that, one
#    record a request, and its saturation is the most it answers with no
#    request shed or late (deadline 1 s). The generator runs on the same cores.
# 3. Overload: 2x saturation with deadline_ms 200: the answered requests'
#    p99 against the deadline, how fast the shed ones hear 503 (at the
#    generator, and in the server: the generator shares the two cores, so that
#    past saturation requests also wait in its socket buffers before the server
#    reads them), and serve's peak RSS.
# One JSON line of serve_load per measurement goes to $WORK/results.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
lat=${2:-10}
bin=build/release/src/sluice
load=build/release/bench/serve_load
[[ -x $bin && -x $load ]] || { echo "build first: cmake --build --preset release" >&2; exit 2; }
work=$(mktemp -d /tmp/sluice-serve-bench.XXXXXX)
"$bin" mock-api --write-data "$work/data" --records 20000 >/dev/null
api=$((19500 + RANDOM % 200))
port=$((api + 200))
"$bin" mock-api --port "$api" --latency-ms "$lat" >"$work/mock.log" 2>&1 &
mock=$!
serve=
trap 'kill $mock $serve 2>/dev/null; wait 2>/dev/null; echo "results: $work/results"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$api/v1/items/1" && break; sleep 0.1; done
start_serve() {  # start_serve [FLAGS]: sluice serve on $port, once ready
  "$bin" serve examples/item-features.yaml --listen "127.0.0.1:$port" -q "$@" \
    --set "datasets.entities.path=$work/data/entities.csv" --set "http.base_url=http://127.0.0.1:$api" \
    >>"$work/serve.log" 2>&1 &
  serve=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
}
start_serve

field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, d))" "$1" "$2"; }
"$load" "$port" 50 1 >/dev/null  # connections opened, caches warm

echo "1. added latency (ms): the API's own critical path, sluice serve end to end, and the difference"
printf '%8s  %-28s %-28s %s\n' "rec/s" "API p50/p99/p99.9" "serve p50/p99/p99.9" "added p50/p99/p99.9"
for rate in 20 500 1000; do
  d=$("$load" --direct "$api" "$rate" "$secs" 20000)
  s=$("$load" "$port" "$rate" "$secs" 20000)
  echo "$d" >>"$work/results"
  echo "$s" >>"$work/results"
  python3 - "$rate" "$d" "$s" <<'PY'
import json, sys
# The same records on both sides: those kept that have pages (two rounds of the API).
rate, d, s = sys.argv[1], json.loads(sys.argv[2])["two_rounds"], json.loads(sys.argv[3])["two_rounds"]
q = ("p50_ms", "p99_ms", "p999_ms")
f = lambda x: "/".join(f"{x[k]:.1f}" for k in q)
print(f"{rate:>8}  {f(d):<28} {f(s):<28} {'/'.join(f'{s[k]-d[k]:+.1f}' for k in q)}")
PY
done

echo "2. saturation"
rm -rf "$work/out"
/usr/bin/time -f "%e" -o "$work/run.time" "$bin" run examples/item-features.yaml -q \
  --set "input.path=$work/data/records.csv" --set "datasets.entities.path=$work/data/entities.csv" \
  --set "http.base_url=http://127.0.0.1:$api" --set "output.path=$work/out" >"$work/run.log" 2>&1
run_rate=$(python3 -c "print(round(20000 / float(open('$work/run.time').read().split()[-1])))")
# The highest of 0.5, 0.6, ... 1.0 x run's rate that serve sustains: every
# request answered in time (deadline 1 s), none shed.
served=0
for tenths in 5 6 7 8 9 10; do
  offer=$((run_rate * tenths / 10))
  s=$("$load" "$port" "$offer" "$secs" 20000 1000)
  echo "$s" >>"$work/results"
  [[ $(field "$s" "shed + deadline + failed") == 0 ]] || break
  served=$(field "$s" "answered_per_s")
done
echo "   sluice run: $run_rate records/s; serve sustains $served/s, one record a request:" \
  "$(python3 -c "print(f'{$served / $run_rate:.2f}')")x of run"

echo "3. overload: 2x saturation, deadline 200 ms (a server of its own, for its summary)"
kill -TERM "$serve"
wait "$serve" || true
start_serve --summary-json "$work/overload.json"
s=$("$load" "$port" $((served * 2)) "$secs" 20000 200)
echo "$s" >>"$work/results"
rss=$(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$serve/status")
kill -TERM "$serve"
wait "$serve" || true
serve=
python3 - "$s" "$work/overload.json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
v = json.load(open(sys.argv[2]))["serve"]
print(f"   sent {d['sent']}: {d['ok']} answered in time, {d['deadline']} past the deadline, {d['shed']} shed (503), "
      f"{d['failed']} failed")
print(f"   at the generator (from the scheduled time): answered p50/p99 {d['latency']['p50_ms']:.1f}/"
      f"{d['latency']['p99_ms']:.1f} ms, shed p50/p99 {d['shed_latency']['p50_ms']:.2f}/{d['shed_latency']['p99_ms']:.2f} ms")
print(f"   in the server (last byte read to answer written): answered p50/p99 {v['answered']['p50_ms']:.1f}/"
      f"{v['answered']['p99_ms']:.1f} ms, shed p50/p99 {v['shed_answered']['p50_ms']:.3f}/{v['shed_answered']['p99_ms']:.3f} ms")
PY
echo "   serve peak RSS: $rss"
