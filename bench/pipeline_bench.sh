#!/usr/bin/env bash
# The reference workload end to end: `sluice run examples/item-features.yaml`
# against the mock API with 5 ms of latency, in one run per setting.
#   bench/pipeline_bench.sh [N] [IN_FLIGHT...]   (default: 100000 records; 64 256 1024)
#   RSS=1 bench/pipeline_bench.sh N_SMALL N_LARGE   (peak RSS at two sizes, 256 in flight)
# For each: records/s, requests/s, the Little's-law ceiling (in flight /
# latency / requests per record), CPU seconds per 1,000 records (sluice's
# process only; the mock API shares the machine and its CPU per record is
# printed too), peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh release >/dev/null
sluice=$PWD/build/release/src/sluice
work=$(mktemp -d /tmp/sluice-pipebench.XXXXXX)
port=$((18600 + RANDOM % 300))
"$sluice" mock-api --port "$port" --latency-ms 5 >"$work/mock.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/items/1" && break; sleep 0.1; done

# CPU seconds the mock API has used so far (utime + stime of /proc/PID/stat).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$server/stat"; }
field() { grep -Eo "\"$1\":[0-9.]+" "$2" | head -1 | cut -d: -f2; }

run() {  # run N IN_FLIGHT
  local n=$1 c=$2 data=$work/data-$1
  [[ -d $data ]] || "$sluice" mock-api --write-data "$data" --records "$n" >/dev/null
  rm -rf "$work/out"
  local server_before server_after
  server_before=$(server_cpu)
  SLUICE_DATA=$data SLUICE_API_URL=http://127.0.0.1:$port SLUICE_OUT=$work/out \
    "$sluice" run examples/item-features.yaml -q --set "http.max_in_flight=$c" --summary-json "$work/s.json" ${SLUICE_SET:-} >/dev/null
  server_after=$(server_cpu)
  local input sent secs cpu rss written ds
  input=$(field input "$work/s.json") sent=$(field sent "$work/s.json") secs=$(field seconds "$work/s.json")
  cpu=$(field cpu_seconds "$work/s.json") rss=$(field peak_rss_bytes "$work/s.json") written=$(field written "$work/s.json")
  ds=$(field dataset_bytes "$work/s.json")
  awk -v n="$input" -v w="$written" -v r="$sent" -v s="$secs" -v cpu="$cpu" -v rss="$rss" -v ds="$ds" -v c="$c" -v scpu="$(awk -v a="$server_before" -v b="$server_after" 'BEGIN { print b - a }')" 'BEGIN {
    ceiling = c / 0.005 / (r / n)
    printf "N=%d in_flight=%d records_per_s=%.0f requests_per_s=%.0f little_ceiling_records_per_s=%.0f (%.0f %%) cpu_s_per_1000=%.3f cpu_us_per_record=%.1f peak_rss_MiB=%.1f datasets_MiB=%.1f rss_less_datasets_MiB=%.1f written=%d mock_api_cpu_us_per_record=%.1f\n",
      n, c, n / s, r / s, ceiling, 100 * (n / s) / ceiling, cpu / n * 1000, cpu / n * 1e6, rss / 1048576, ds / 1048576, (rss - ds) / 1048576, w, scpu / n * 1e6 }'
}

if [[ ${RSS:-} == 1 ]]; then
  small=${1:-100000} large=${2:-1000000}
  run "$small" 256
  run "$large" 256
  exit
fi
n=${1:-100000}
shift || true
for c in "${@:-64 256 1024}"; do
  for one in $c; do run "$n" "$one"; done
done
