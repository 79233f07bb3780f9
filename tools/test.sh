#!/usr/bin/env bash
# The README's test command: installs dependencies, builds from scratch into build/,
# and runs the whole suite (unit, BPF and root integration tests in namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/test.sh: run as root (tests create network namespaces)" >&2; exit 1; }
bash tools/install-deps.sh
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure "$@"
