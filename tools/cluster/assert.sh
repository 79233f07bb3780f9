# shellcheck shell=bash
# Tiny assertions for shell tests: each failure names the assertion, the values and the
# caller's file:line, then exits 1 (the EXIT trap of the kit still tears down).

assert__where() { echo "${BASH_SOURCE[2]##*/}:${BASH_LINENO[1]}"; }

fail() {
  echo "FAIL ($(assert__where)): $*" >&2
  exit 1
}

pass() { echo "ok: $*"; }

# assert_eq <expected> <actual> [message]
assert_eq() {
  [[ $1 == "$2" ]] || { echo "FAIL ($(assert__where)): ${3:-values differ}: expected '$1', got '$2'" >&2; exit 1; }
}

assert_ne() {
  [[ $1 != "$2" ]] || { echo "FAIL ($(assert__where)): ${3:-values equal}: both '$1'" >&2; exit 1; }
}

# assert_contains <haystack> <needle> [message]
assert_contains() {
  [[ $1 == *"$2"* ]] || { echo "FAIL ($(assert__where)): ${3:-missing text}: '$2' not in:" >&2; echo "$1" | sed 's/^/    /' >&2; exit 1; }
}

assert_not_contains() {
  [[ $1 != *"$2"* ]] || { echo "FAIL ($(assert__where)): ${3:-unexpected text}: '$2' found in:" >&2; echo "$1" | sed 's/^/    /' >&2; exit 1; }
}

# assert_ok <message> <command> [args...]: the command must succeed.
assert_ok() {
  local msg=$1 out status=0
  shift
  out=$("$@" 2>&1) || status=$?
  ((status == 0)) || { echo "FAIL ($(assert__where)): $msg: '$*' exited $status:" >&2; echo "$out" | sed 's/^/    /' >&2; exit 1; }
}

# assert_fails <message> <command> [args...]: the command must fail.
assert_fails() {
  local msg=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "FAIL ($(assert__where)): $msg: '$*' succeeded:" >&2
    echo "$out" | sed 's/^/    /' >&2
    exit 1
  fi
}

assert_exists() { [[ -e $1 ]] || { echo "FAIL ($(assert__where)): ${2:-missing}: $1 does not exist" >&2; exit 1; }; }
assert_absent() { [[ ! -e $1 ]] || { echo "FAIL ($(assert__where)): ${2:-left behind}: $1 exists" >&2; exit 1; }; }
