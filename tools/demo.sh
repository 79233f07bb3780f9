#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, then runs the cluster demo
# (tools/demo/cluster.sh): a real etcd, 3 nodes made of namespaces, shuttled and the
# shuttle CNI plugin on every node, pods, traffic, shuttlectl/bpftool views and a short
# benchmark; then removes everything it made.
#
#   sudo tools/demo.sh [--quick] [--keep] [--no-bench] [--skip-build]
#
#   --quick       accepted for old command lines (the benchmark runs one round anyway)
#   --keep        leave the cluster up at the end; prints the command that removes it
#   --no-bench    skip the benchmark step
#   --skip-build  neither install packages nor build (use the existing build/)
#
# Nothing is configured in the host's own network namespace.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[[ $(id -u) == 0 ]] || { echo "tools/demo.sh: run as root (the demo creates network namespaces)" >&2; exit 1; }

build=1 keep= cluster_args=()
for arg in "$@"; do
  case $arg in
  --quick | --no-bench) cluster_args+=("$arg") ;;
  --keep) keep=1 ;;
  --skip-build) build= ;;
  -h | --help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "tools/demo.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

source tools/demo/lib.sh
trap 'demo_on_error $LINENO "$BASH_COMMAND"' ERR

if [[ -n $build ]]; then
  demo_step 0a "dependencies (Debian packages, tools/install-deps.sh)"
  bash tools/install-deps.sh 2>&1 | tail -n 3 | demo_show
  demo_step 0b "build (cmake)"
  mkdir -p build
  # A configured folder is not configured again (~2 s): the build re-runs cmake itself when a
  # CMakeLists.txt or the set of sources changed.
  if [[ ! -f build/build.ninja ]]; then
    bash tools/cmake-configure.sh build >build/demo-build.log 2>&1 ||
      { tail -n 30 build/demo-build.log >&2; demo_fail "cmake configure failed (build/demo-build.log)"; }
  fi
  cmake --build build -j"$(nproc)" --target shuttle shuttled shuttlectl >>build/demo-build.log 2>&1 ||
    { tail -n 30 build/demo-build.log >&2; demo_fail "the build failed (build/demo-build.log)"; }
  demo_ok "$(ls build/bin | tr '\n' ' ')in build/bin"
fi
trap - ERR
export DEMO_T0

if [[ -z $keep ]]; then
  exec bash tools/demo/cluster.sh "${cluster_args[@]}"
fi

# --keep: the cluster's owner must outlive this script, so the scenario runs in its own
# session; its output comes through a FIFO until it detaches (or ends on a failure).
fifo=$(mktemp -u /tmp/shuttle-demo.XXXXXX)
kept=$fifo.kept
mkfifo "$fifo"
DEMO_KEPT_FILE=$kept setsid bash tools/demo/cluster.sh "${cluster_args[@]}" --keep \
  >"$fifo" 2>&1 </dev/null &
scenario=$!
trap 'kill -TERM $scenario 2>/dev/null; rm -f "$fifo" "$kept"; exit 130' INT TERM
cat "$fifo"
rm -f "$fifo"
if [[ -s $kept ]]; then
  rm -f "$kept"
  exit 0
fi
wait "$scenario"
