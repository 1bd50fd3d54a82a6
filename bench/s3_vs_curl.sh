#!/usr/bin/env bash
# sluice's S3 multipart upload next to the same upload made by curl's own
# SigV4 signer (curl --aws-sigv4), in one run, against a one-node Swift S3
# API on loopback.
#   bench/s3_vs_curl.sh [MiB]      (default 1024: 1 GiB in 16 MiB parts, 4 at once)
# Reports MB/s and client CPU per MB, with the payload's SHA-256 signed and
# with UNSIGNED-PAYLOAD. curl 7.88 does not hash the body itself: its column
# includes `openssl dgst -sha256` of each part, the work sluice does inside.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
part_mib=16
in_flight=4
parts=$((mib / part_mib))
scripts/build.sh release >/dev/null
bench=build/release/bench/s3_benchmark
work=$(mktemp -d /tmp/sluice-s3bench.XXXXXX)
port=18900
tests/s3/swift_server.sh start "$work/swift" $port >/dev/null
trap 'tests/s3/swift_server.sh stop "$work/swift"; rm -rf "$work"' EXIT

export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export SLUICE_UPLOAD_JOURNAL=$work/journal
# curl splits --user at the first colon and the access key holds one: the
# URL's user part is percent-decoded instead.
origin="http://test%3Atester:testing@127.0.0.1:$port"
sig=(--aws-sigv4 "aws:amz:us-east-1:s3")
empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl -sf -X PUT "${sig[@]}" -H "x-amz-content-sha256: $empty" "$origin/bench" >/dev/null
head -c $((part_mib << 20)) /dev/urandom >"$work/part"  # curl sends this file as every part

curl_upload() {  # curl_upload KEY signed|unsigned
  local key=$1 mode=$2 id hash args=() n xml
  id=$(curl -sf -X POST "${sig[@]}" -H "x-amz-content-sha256: $empty" "$origin/bench/$key?uploads=" |
    grep -o '<UploadId>[^<]*' | cut -d'>' -f2 | sed 's/=/%3D/g; s/+/%2B/g; s#/#%2F#g')
  for ((n = 1; n <= parts; n++)); do
    if [[ $mode == signed ]]; then hash=$(openssl dgst -sha256 -r "$work/part" | cut -d' ' -f1); else hash=UNSIGNED-PAYLOAD; fi
    ((n > 1)) && args+=(--next)
    args+=(-sf -o /dev/null -D "$work/h.$n" -T "$work/part" "${sig[@]}" -H "x-amz-content-sha256: $hash"
      "$origin/bench/$key?partNumber=$n&uploadId=$id")
  done
  curl -Z --parallel-max "$in_flight" "${args[@]}" 2>"$work/curl.err"  # (its parallel progress meter)
  xml="<CompleteMultipartUpload>"
  for ((n = 1; n <= parts; n++)); do
    xml+="<Part><PartNumber>$n</PartNumber><ETag>$(grep -i '^etag:' "$work/h.$n" | cut -d' ' -f2 | tr -d '\r')</ETag></Part>"
  done
  xml+="</CompleteMultipartUpload>"
  curl -sf -X POST "${sig[@]}" -H "x-amz-content-sha256: $(printf %s "$xml" | openssl dgst -sha256 -r | cut -d' ' -f1)" \
    --data-binary "$xml" "$origin/bench/$key?uploadId=$id" | grep -q CompleteMultipartUploadResult
}

ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$$/stat"; }  # the script's and its reaped children's CPU
hz=$(getconf CLK_TCK)
bytes=$((parts * part_mib << 20))
for mode in signed unsigned; do
  s=$("$bench" "s3://bench/sluice-$mode.bin" "http://127.0.0.1:$port" "$bytes" $((part_mib << 20)) "$in_flight" "$mode")
  echo "$mode $s"
  t0=$(ticks) w0=$(date +%s.%N)
  curl_upload "curl-$mode.bin" "$mode"
  t1=$(ticks) w1=$(date +%s.%N)
  c=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v b="$bytes" -v w0="$w0" -v w1="$w1" \
    'BEGIN { mb = b / 1e6; printf "seconds=%.2f MB_per_s=%.1f cpu_s=%.3f cpu_ms_per_MB=%.3f", w1 - w0, mb / (w1 - w0), t / hz, t / hz * 1e3 / mb }')
  echo "$mode curl   bytes=$bytes $c"
  awk -v s="$(grep -Eo 'cpu_ms_per_MB=[0-9.]+' <<<"$s" | cut -d= -f2)" -v c="$(grep -Eo 'cpu_ms_per_MB=[0-9.]+' <<<"$c" | cut -d= -f2)" \
    -v m="$mode" 'BEGIN { printf "%s: sluice CPU per MB / curl = %.2fx\n", m, s / c }'
done
