#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test.
# Idempotent: when every package is already installed it does nothing and
# touches neither the network nor apt's lists.
#   scripts/setup.sh               everything: build, test, benchmark
#   scripts/setup.sh --build-only  what building the library and the CLI needs
#                                  (deploy/Dockerfile)
set -euo pipefail

build_only=0
[[ ${1:-} == --build-only ]] && build_only=1

packages=(
  # toolchain
  clang-16 libclang-rt-16-dev cmake ninja-build pkg-config
  # libraries (Boost pinned to 1.81: the unversioned packages pull 1.74)
  libboost1.81-dev libboost-url1.81-dev
  libsimdjson-dev libyaml-cpp-dev libcli11-dev libfmt-dev
  libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libdeflate-dev libssl-dev
)
((build_only)) || packages+=(
  # development: formatting, static checks, faster rebuilds
  clang-format-16 clang-tidy-16 ccache
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # tests: certificates for the TLS tests; benchmarks: the reference HTTP/1.1 load generator
  openssl wrk
  # tests: an S3-compatible server on loopback (OpenStack Swift with s3api)
  python3-swift curl
  # tests: a real HTTP server with a short keep-alive timeout
  nginx
  # tests: a real scheduler for the shards, a one-node Slurm cluster on loopback
  slurm-wlm munge
  # tests: where batch runs push their metrics
  prometheus-pushgateway
  # tests: the manual page formatted and read as man shows it
  groff-base man-db
)

# Node.js runs the independent Parquet readers of the interop tests; the
# machine's own node is used when there is one.
if ((!build_only)) && ! { command -v node && command -v npm; } >/dev/null; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

((build_only)) && exit 0

# The interop tests' readers (DuckDB, hyparquet, parquet-wasm), exactly as
# pinned by the lock file; reinstalled only when the lock file changes.
interop="$(dirname "$0")/../tests/interop"
stamp="$interop/node_modules/.sluice-lock-sha256"
want=$(sha256sum "$interop/package-lock.json" | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: installing the interop tests' npm packages" >&2
  (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$stamp"
fi
