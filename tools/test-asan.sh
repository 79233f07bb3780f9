#!/usr/bin/env bash
# The sanitizer run (CI, after the main test command): a second tree build-asan/ with
# -DSHUTTLE_SANITIZE=address,undefined, only the targets these tests need, then the unit
# tests and the plugin/IPAM/etcd integration tests. Any ASan or UBSan report aborts the
# process that hit it; LeakSanitizer's report at exit fails it too (exit code 23).
#   tools/test-asan.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "tools/test-asan.sh: run as root (tests create network namespaces)" >&2; exit 1; }
tree=build-asan
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake "${generator[@]}" -B "$tree" -S . -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHUTTLE_SANITIZE=address,undefined >/dev/null
cmake --build "$tree" -j"$(nproc)" --target shuttle shuttlectl shuttle_unit_tests shuttle_integration_tests

export ASAN_OPTIONS=detect_leaks=1:exitcode=23:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=exitcode=23
# The plugin (every shell test drives build-asan/bin/shuttle), its IPAM store and delegation,
# the detached delete, the etcd client and the lease manager that uses it.
integration='^integration: plugin_(commands|errors|interop|concurrency)$'
integration+='|^integration:detached delete'
integration+='|^integration:etcd '
integration+='|^integration:agent'
ctest --test-dir "$tree" --output-on-failure -L unit "$@"
ctest --test-dir "$tree" --output-on-failure -R "$integration" "$@"
