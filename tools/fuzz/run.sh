#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/, clang++ with ASan + UBSan, tree build-fuzz/) and
# runs each in turn.
#   tools/fuzz/run.sh [--minutes N] [--regression] [--jobs N] [target...]
#   --minutes N    fuzz each target N minutes (default 1); new inputs go to
#                  build-fuzz/corpus/<target>/, the committed seeds are read only
#   --regression   run each target once over its committed corpus (no mutation): CI's mode
# A crash, leak or UB report stops that target; its input is left in
# build-fuzz/artifacts/<target>-crash-* (copy it to tests/fuzz/corpus/<target>/ once fixed).
# The libFuzzer lines with cov:/ft:/exec/s are kept in build-fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=1 regression=0 jobs=$(nproc) targets=()
while (($#)); do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --regression) regression=1; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

tree=build-fuzz
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake "${generator[@]}" -B "$tree" -S . -DSHUTTLE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$tree" -j"$jobs"
if ((${#targets[@]} == 0)); then
  for source in tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$source" _fuzz.cpp)
    targets+=("$name")
  done
fi

mkdir -p "$tree/artifacts" "$tree/logs"
failed=()
for target in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/$target
  binary=$tree/bin/${target}_fuzz
  args=(-artifact_prefix="$tree/artifacts/$target-")
  [ -f "tests/fuzz/$target.dict" ] && args+=(-dict="tests/fuzz/$target.dict")
  if ((regression)); then
    "$binary" -runs=0 "${args[@]}" "$seeds" >"$tree/logs/$target.log" 2>&1 ||
      failed+=("$target")
    echo "$target: $(grep -o 'INITED.*\|DONE.*' "$tree/logs/$target.log" | tail -1)"
    continue
  fi
  mkdir -p "$tree/corpus/$target"
  echo "== $target: $minutes min"
  if "$binary" -max_total_time=$((minutes * 60)) -print_final_stats=1 "${args[@]}" \
      "$tree/corpus/$target" "$seeds" >"$tree/logs/$target.log" 2>&1; then
    { grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$tree/logs/$target.log" || true; } | tail -2
    grep -E '^stat::number_of_executed_units' "$tree/logs/$target.log" || true
  else
    failed+=("$target")
    grep -E 'ERROR|SUMMARY|property broken|Test unit written' "$tree/logs/$target.log" | head -5
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]} (logs in $tree/logs/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) passed"
