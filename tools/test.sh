#!/usr/bin/env bash
# The README's test command: installs dependencies, builds from scratch into build/,
# and runs the whole suite (unit, BPF and root integration tests in namespaces).
# Tests run in parallel, three per core: most of them wait (on etcd, shuttled's 5 s checks, pings,
# streams, the kernel) more than they compute (on 2 cores, 2026-12-07: -j4 221 s, -j6 176 s,
# -j8 190 s with a 30 s wait timing out; docs/ARCHITECTURE.md). The few that must run alone say
# so in tests/CMakeLists.txt. SHUTTLE_TEST_JOBS=1 runs them one by one.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/test.sh: run as root (tests create network namespaces)" >&2; exit 1; }
bash tools/install-deps.sh
bash tools/cmake-configure.sh build
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"${SHUTTLE_TEST_JOBS:-$(($(nproc) * 3))}" "$@"
