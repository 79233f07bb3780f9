#!/usr/bin/env bash
# The sanitizer run (.ci/run, after the main test command; see
# docs/ARCHITECTURE.md "Sanitizer and fuzz builds"): a second tree build-asan/ with
# -DSHUTTLE_SANITIZE=address,undefined at -O1, only the targets these tests need, then the
# unit tests and the plugin/IPAM/etcd/agent integration tests (docs/ARCHITECTURE.md "Sanitizer
# and fuzz builds"). Every sanitized executable carries its default options
# (cmake/sanitizer_options.c): an ASan or UBSan report aborts the process that hit it, a
# LeakSanitizer report at exit fails it, both with exit code 23, and every report is written
# to build-asan/sanitizer-reports/. The run fails on a failed test AND on any report there:
# a plugin exec'd by a shell test whose exit status the test does not check is caught too.
# Suppressions (third-party code only, a reason per entry): tools/sanitizer/lsan.supp.
#   tools/test-asan.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/test-asan.sh: run as root (tests create network namespaces)" >&2; exit 1; }
tree=build-asan
generator=()
[[ -f $tree/CMakeCache.txt ]] || { ! command -v ninja >/dev/null || generator=(-G Ninja); }
# -O1: a third less compile time than -O2 and the sanitizers' usual level; -g1 (the
# project's RelWithDebInfo default for C++) keeps file:line in the reports.
cmake "${generator[@]}" -B "$tree" -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
  -DSHUTTLE_SANITIZE=address,undefined \
  -DSHUTTLE_INTEGRATION_TEST_SOURCES='/(plugin_detached_delete|etcd_client|agent_lease|agent_static)_test\.cpp$' \
  >/dev/null
# shuttle for the plugin tests, shuttlectl for plugin_concurrency's map checks.
cmake --build "$tree" -j"$(nproc)" --target shuttle shuttlectl shuttle_unit_tests shuttle_integration_tests

reports=$PWD/$tree/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"

# The unit tests (label unit); the shell tests that exec build-asan/bin/shuttle; every
# Catch2 case of this tree's integration binary (detached delete, etcd client and prefix
# sync, the agent's lease and static-node managers). A Catch2 case is "integration:<name>"
# (a name with a ';' is split in two by ctest), a script "integration: <script>".
shell_tests='^integration: plugin_(commands|errors|interop|concurrency|dual_stack)$'
# plugin_concurrency's ADD/DEL cycles: 50 instead of 500 (each sanitized exec is slower; the
# 500 timed out at 600 s on a loaded machine, and one cycle runs the same code as the next).
export SHUTTLE_CYCLES=${SHUTTLE_CYCLES:-50}
jobs=${SHUTTLE_TEST_JOBS:-$(($(nproc) * 2))}
status=0
ctest --test-dir "$tree" --output-on-failure -j"$jobs" -L unit "$@" || status=1
ctest --test-dir "$tree" --output-on-failure -j"$jobs" -R "$shell_tests" "$@" || status=1
# Left out here: the prefix sync's compaction case. Under ASan the stopped etcd's stream
# ends as a connection error (two runs of 2026-12-07 in a row), so the sync re-lists by
# its unreachable path instead of meeting the compaction; the main suite runs it.
ctest --test-dir "$tree" --output-on-failure -j"$jobs" -R '^integration:' \
  -E '^integration: [a-z0-9_]+$|resume revision was compacted' "$@" || status=1

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]})); then
  for report in "${found[@]}"; do
    echo "==== sanitizer report $report"
    cat "$report"
  done
  echo "tools/test-asan.sh: ${#found[@]} sanitizer report(s) above" >&2
  status=1
fi
((status == 0)) && echo "tools/test-asan.sh: no test failed, no sanitizer report"
exit "$status"
