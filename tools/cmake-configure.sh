#!/usr/bin/env bash
# The configure step of tools/test.sh, tools/demo.sh and tools/lint.sh: Ninja for a new build
# folder (one made earlier keeps its generator: cmake refuses to switch), RelWithDebInfo.
#
#   bash tools/cmake-configure.sh <build folder> [more cmake arguments]
set -euo pipefail
dir=$1
shift
generator=(-G Ninja)
[[ ! -f $dir/CMakeCache.txt ]] || generator=()
cmake "${generator[@]}" -B "$dir" -S "$(cd "$(dirname "$0")/.." && pwd)" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
