#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test.
# Idempotent: when every package is already installed it does nothing and
# touches neither the network nor apt's lists.
set -euo pipefail

packages=(
  # toolchain
  clang-16 libclang-rt-16-dev cmake ninja-build ccache pkg-config
  # libraries (Boost pinned to 1.81: the unversioned packages pull 1.74)
  libboost1.81-dev libboost-url1.81-dev
  libtbb-dev libsimdjson-dev libyaml-cpp-dev libcli11-dev libfmt-dev
  libzstd-dev libsnappy-dev liblz4-dev zlib1g-dev libssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
