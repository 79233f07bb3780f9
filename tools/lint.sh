#!/usr/bin/env bash
# clang-tidy (.clang-tidy) over every unit of userspace/, cni/ and tools/; exits non-zero on
# any finding. Its own build folder, build-lint/: compile commands without the precompiled
# header (clang cannot read gcc's), and only the generated headers built (BPF skeleton).
#
#   bash tools/lint.sh [build folder, default build-lint] [file regex, default all units]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-lint}
only=${2:-.}
bash tools/cmake-configure.sh "$dir" -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON -DSHUTTLE_UNITY_BUILD=OFF -DSHUTTLE_TESTS=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$dir.configure.log" 2>&1 ||
  { cat "$dir.configure.log" >&2; exit 1; }
cmake --build "$dir" --target bpf_shuttle >/dev/null
mapfile -t units < <(jq -r '.[].file' "$dir/compile_commands.json" |
  grep -E "^$PWD/(userspace|cni|tools)/" | grep -E -- "$only" | sort)
# No units (e.g. a unity build's combined sources in compile_commands.json) is a failure, not a pass.
((${#units[@]})) || { echo "lint: no unit of userspace/, cni/, tools/ matches in $dir/compile_commands.json" >&2; exit 1; }
echo "lint: clang-tidy on ${#units[@]} units" >&2
out=$dir/clang-tidy.log
# run-clang-tidy's exit status does not count warnings: the log does.
# (It colours its output even into a file: the colour codes go.)
run-clang-tidy -p "$dir" -j "$(nproc)" -quiet "${units[@]}" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$out" || true
findings=$(grep -cE '^/.*: (warning|error): ' "$out" || true)
if ((findings)); then
  grep -E -A3 '^/.*: (warning|error): ' "$out" >&2
  echo "lint: $findings finding(s) (full log: $out)" >&2
  exit 1
fi
echo "lint: no findings in ${#units[@]} units"
