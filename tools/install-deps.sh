#!/usr/bin/env bash
# Installs everything shuttle's build, tests, demo and benchmarks need, from Debian's
# archive only. Idempotent and non-interactive; the one place that installs.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang llvm libbpf-dev libelf-dev zlib1g-dev
  bpftool nlohmann-json3-dev catch2 libcurl4-openssl-dev libnftables-dev clang-format clang-tidy
  # libFuzzer and clang's sanitizer runtimes (tools/fuzz/run.sh)
  libclang-rt-14-dev
  # network tooling for tests, demo and benchmarks
  iproute2 iputils-ping iptables nftables iperf3 sockperf util-linux procps kmod ethtool
  # cluster store and the reference plugins (the baseline)
  etcd-server etcd-client containernetworking-plugins
  # cnitool from Debian's source package
  golang-go dpkg-dev
  # reports
  openssl jq gnuplot-nox curl python3 python3-yaml
  # the fault tests: a wall-clock jump seen by shuttled alone (LD_PRELOAD)
  libfaketime
)

# One dpkg-query for all of them (one per package took ~1 s of the demo's start).
mapfile -t installed < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$NF == "installed" && $(NF - 1) == "ok" {print $1}')
missing=()
for p in "${packages[@]}"; do
  [[ " ${installed[*]} " == *" $p "* ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#packages[@]} packages present"
