#!/usr/bin/env bash
# sluice's HTTP client next to wrk against the mock API, in one run.
#   bench/http_vs_wrk.sh [SECONDS]     (default 5)
# The server runs alone on core 0, the client (sluice's, then wrk) on core 1.
# Reports requests/s and client CPU per request at 64 and 512 in flight with
# no added latency, then Little's law: 256 in flight at 5 ms latency, whose
# ceiling is 256 / 5 ms = 51,200 requests/s.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
scripts/build.sh release >/dev/null
bin=build/release/src/sluice
bench=build/release/bench/http_client_benchmark

serve() {  # serve PORT LATENCY_MS
  taskset -c 0 "$bin" mock-api --port "$1" --latency-ms "$2" >/dev/null &
  server=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$1/v1/items/1" >/dev/null && return; sleep 0.1; done
  echo "the mock API did not start" >&2; exit 1
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }

cpu_of() {  # runs a command, prints its user+sys CPU seconds on stderr's last line
  local t0 t1 me=$BASHPID  # this process: its children's CPU lands in fields 16-17 once reaped
  t0=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$me/stat")
  "$@"
  t1=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$me/stat")
  echo "cpu_ticks=$((t1 - t0))" >&2
}

port=18190
serve $port 0
hz=$(getconf CLK_TCK)
for c in 64 512; do
  taskset -c 1 "$bench" "http://127.0.0.1:$port" "$c" "$secs" | tee /tmp/sluice_http_$c.txt
  out=$( { cpu_of taskset -c 1 wrk -t1 -c"$c" -d"${secs}s" "http://127.0.0.1:$port/v1/items/12345"; } 2>&1 )
  reqs=$(grep -Eo '[0-9]+ requests in' <<<"$out" | grep -Eo '^[0-9]+')
  ticks=$(grep -Eo 'cpu_ticks=[0-9]+' <<<"$out" | cut -d= -f2)
  wrk_us=$(awk -v t="$ticks" -v hz="$hz" -v r="$reqs" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
  echo "wrk    in_flight=$c requests=$reqs requests_per_s=$(grep -Eo 'Requests/sec: +[0-9.]+' <<<"$out" | awk '{print $2}') cpu_us_per_request=$wrk_us"
  s_us=$(grep -Eo 'cpu_us_per_request=[0-9.]+' /tmp/sluice_http_$c.txt | cut -d= -f2)
  awk -v s="$s_us" -v w="$wrk_us" -v c="$c" 'BEGIN { printf "in_flight %s: sluice CPU per request / wrk = %.2fx\n", c, s / w }'
done
stop

serve $((port + 1)) 5
taskset -c 1 "$bench" "http://127.0.0.1:$((port + 1))" 256 "$secs" | tee /tmp/sluice_http_little.txt
stop
rps=$(grep -Eo 'requests_per_s=[0-9.]+' /tmp/sluice_http_little.txt | cut -d= -f2)
awk -v r="$rps" 'BEGIN { printf "Little: %.0f requests/s of a 51200 ceiling = %.1f %%\n", r, 100 * r / 51200 }'
