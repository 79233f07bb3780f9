# shellcheck shell=bash
# Step printing for the demo: numbered steps with elapsed time, skipped steps that say
# why, and a failure message naming the step. Sourced by tools/demo.sh and
# tools/demo/cluster.sh.

DEMO_T0=${DEMO_T0:-$EPOCHSECONDS} # wall clock: shared with the scripts it starts
DEMO_STEP=${DEMO_STEP:-}
if [[ -t 1 ]]; then
  DEMO_BOLD=$'\e[1m' DEMO_DIM=$'\e[2m' DEMO_GREEN=$'\e[32m' DEMO_YELLOW=$'\e[33m' DEMO_RED=$'\e[31m' DEMO_OFF=$'\e[0m'
else
  DEMO_BOLD= DEMO_DIM= DEMO_GREEN= DEMO_YELLOW= DEMO_RED= DEMO_OFF=
fi

demo_elapsed() { printf '%3ds' $((EPOCHSECONDS - DEMO_T0)); }

# demo_step <number> <title>: starts a step (the failure message names it).
demo_step() {
  DEMO_STEP="$1 $2"
  printf '\n%s[%s] %s%s %s(t+%s)%s\n' "$DEMO_BOLD" "$1" "$2" "$DEMO_OFF" "$DEMO_DIM" "$(demo_elapsed)" "$DEMO_OFF"
}

demo_ok() { printf '  %sok%s %s\n' "$DEMO_GREEN" "$DEMO_OFF" "$*"; }
demo_info() { printf '  %s\n' "$*"; }
# A step or part of one whose piece is not built yet: said plainly, never faked.
demo_skip() { printf '  %snot available yet:%s %s\n' "$DEMO_YELLOW" "$DEMO_OFF" "$*"; }
# Indented output of a command (what the user would see running it).
demo_show() { sed -u "s/^/    /"; }
demo_cmd() { printf '  %s$ %s%s\n' "$DEMO_DIM" "$*" "$DEMO_OFF"; }

DEMO_REPORTED=
demo__report() {
  [[ -z $DEMO_REPORTED ]] || return 0
  DEMO_REPORTED=1
  printf '\n%sdemo failed at step [%s]:%s %s\n' "$DEMO_RED" "${DEMO_STEP:-setup}" "$DEMO_OFF" "$*" >&2
}

# Ends the run with a message naming the step; the EXIT trap then cleans up.
demo_fail() {
  demo__report "$*"
  exit 1
}

# ERR trap (set -E): names the step and the failing command. In a subshell (a command
# substitution) it only exits: the main shell then reports the enclosing command.
DEMO_TEARDOWN=
demo_on_error() {
  local status=$? line=$1 command=$2
  # The kit's teardown expects failing commands (set +e there); `trap - ERR` from an exit
  # hook does not stick, hence the flag.
  [[ -z $DEMO_TEARDOWN ]] || return 0
  [[ $BASHPID == "$$" ]] || exit "$status"
  demo__report "\`$command\` exited with $status (line $line)"
  exit "$status"
}

# For the EXIT path: an end before DEMO_DONE that neither of the above reported
# (kit_die, a signal).
DEMO_DONE=
demo_report_unfinished() {
  [[ -n $DEMO_DONE ]] || demo__report "stopped before the end (see the messages above)"
}
