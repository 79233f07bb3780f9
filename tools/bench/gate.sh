# shellcheck shell=bash
# The quick suite's phase gate (suite.sh --quick, the demo's benchmark): its scenarios build
# their setups at the same time, then measure one at a time in the order suite.sh grants,
# and tear down only once every scenario has measured. So no setup or teardown ever runs
# while something is measured, and the setups' waits (shuttled, etcd, holders) overlap.
# suite.sh sets BENCH_GATE_DIR (the flag files) and BENCH_GATE_OWNER (its PID); without
# them (a scenario script run alone, the full suite) both calls return at once.

# bench_gate_nap: 0.05 s without starting a process (`sleep` forked 20 times a second in
# every waiting scenario, during the others' measurements): a read that times out on a
# pipe nobody writes to.
bench_gate_nap() {
  [[ -n ${BENCH_GATE__PIPE:-} ]] || exec {BENCH_GATE__PIPE}<> <(:)
  read -r -t 0.05 -u "$BENCH_GATE__PIPE" || true
}

bench_gate__wait() { # flag-file
  until [[ -e $BENCH_GATE_DIR/$1 ]]; do
    if [[ -e $BENCH_GATE_DIR/abort ]] || ! kill -0 "$BENCH_GATE_OWNER" 2>/dev/null; then
      echo "bench: the suite stopped (gate $BENCH_GATE_DIR)" >&2
      exit 1
    fi
    bench_gate_nap
  done
}

# bench_gate_measure <scenario>: the setups are built; returns when it is this scenario's
# turn to measure.
bench_gate_measure() {
  [[ -n ${BENCH_GATE_DIR:-} ]] || return 0
  touch "$BENCH_GATE_DIR/ready-$1"
  bench_gate__wait "go-$1"
}

# bench_gate_measured <scenario>: its measurements are done; returns when every scenario's
# are (then tearing down disturbs no one).
bench_gate_measured() {
  [[ -n ${BENCH_GATE_DIR:-} ]] || return 0
  touch "$BENCH_GATE_DIR/done-$1"
  bench_gate__wait teardown
}
