#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/demo.sh: run as root (the demo creates network namespaces)" >&2; exit 1; }
bash tools/install-deps.sh
cmake -B build -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
echo "shuttle is built in build/bin. The cluster demo is not written yet: nothing more to show."
