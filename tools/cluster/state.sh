# shellcheck shell=bash
# Run state of the cluster kit and its teardown; sourced by kit.sh and sweep.sh.
#
# Every run owns one directory $KIT_ROOT/<id>/ holding everything it made on disk, and a
# `state` file listing, in creation order, what it made outside that directory:
#   owner <pid> <starttime>            the shell that sourced the kit
#   netns <name>                       a /run/netns/<name> it added
#   pid   <pid> <starttime> <tag>      a process it started (holder, etcd, spawned command)
# A line is written before the object is created, so a run that dies midway is still
# fully described. Teardown (the run's own trap, or sweep.sh for a dead owner) undoes
# exactly what the state names, checking PID + start time before signalling anything.

KIT_ROOT=${SHUTTLE_KIT_ROOT:-/tmp/shuttle-kit}
KIT_NETNS_PREFIX=shk-
KIT_HOLDER_TAG=shuttle-kit-holder

# The start time of a live, non-zombie process (field 22 of /proc/<pid>/stat), or nothing.
kit__starttime() {
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*) }
  # shellcheck disable=SC2086
  set -- $rest
  [[ $1 != Z && $1 != X ]] || return 1
  echo "${20}"
}

# True when <pid> is still the process that was recorded (same start time) and, if given,
# its command line contains <needle>.
kit__is_recorded_process() {
  local pid=$1 start=$2 needle=${3:-} now cmdline
  now=$(kit__starttime "$pid") || return 1
  [[ $now == "$start" ]] || return 1
  [[ -z $needle ]] && return 0
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$needle"* ]]
}

kit__valid_run_dir() {
  local dir=$1
  [[ $(dirname "$dir") == "$KIT_ROOT" && $(basename "$dir") =~ ^[0-9a-f]{6}$ ]]
}

# The owner of a run is alive when its recorded PID still has the recorded start time.
kit__owner_alive() {
  local dir=$1 kind pid start
  [[ -r $dir/state ]] || return 1
  read -r kind pid start <"$dir/state" || return 1
  [[ $kind == owner ]] && kit__is_recorded_process "$pid" "$start"
}

# Processes whose network or mount namespace is one of the given "net:[ino]"/"mnt:[ino]"
# links: commands a test started inside the run's nodes or pods and did not record.
kit__processes_in_namespaces() {
  local -A wanted=() seen=()
  local ns pid link
  for ns in "$@"; do wanted[$ns]=1; done
  ((${#wanted[@]})) || return 0
  # One stat for all the links ("'/proc/<pid>/ns/net' -> 'net:[ino]'"): a readlink per
  # process took seconds of CPU on every teardown.
  while read -r pid link; do
    [[ $pid == "$$" || $pid == "$BASHPID" || -n ${seen[$pid]:-} ]] && continue
    if [[ -n ${wanted[$link]:-} ]]; then
      seen[$pid]=1
      echo "$pid"
    fi
  done < <(stat -c '%N' /proc/[0-9]*/ns/net /proc/[0-9]*/ns/mnt 2>/dev/null |
    sed -n "s|^'/proc/\([0-9]*\)/ns/[a-z]*' -> '\(.*\)'\$|\1 \2|p")
}

kit__wait_gone() {
  local deadline=$((SECONDS + $1)) pid alive
  shift
  while :; do
    alive=()
    for pid in "$@"; do
      if kit__starttime "$pid" >/dev/null; then
        alive+=("$pid")
      else
        wait "$pid" 2>/dev/null # reaps it if it is our child (it has exited: no blocking)
      fi
    done
    ((${#alive[@]})) || return 0
    ((SECONDS < deadline)) || break
    sleep 0.05
  done
  echo "${alive[@]}"
  return 1
}

# Undo everything the run in <dir> recorded, then remove <dir>. Idempotent; never fails.
kit__teardown_run() {
  local dir=$1
  local - # restore the caller's shell options on return
  set +e +u
  kit__valid_run_dir "$dir" || { echo "kit: refusing to tear down $dir" >&2; return 0; }
  # One teardown per run at a time (the owner's trap and a sweep may race); the loser
  # finds the run dir gone.
  local lock_fd
  { exec {lock_fd}<"$dir"; } 2>/dev/null || return 0
  flock "$lock_fd"
  if [[ ! -d $dir ]]; then
    exec {lock_fd}<&-
    return 0
  fi
  local id kind a b c
  id=$(basename "$dir")
  local -a netns=() pids=() namespaces=()
  if [[ -r $dir/state ]]; then
    while read -r kind a b c; do
      case $kind in
      netns) [[ $a == "${KIT_NETNS_PREFIX}${id}-"* ]] && netns+=("$a") ;;
      pid)
        # A holder must still carry its tag; any recorded process must keep its start time.
        local needle=
        [[ $c == holder:* ]] && needle="$KIT_HOLDER_TAG:$id:"
        if kit__is_recorded_process "$a" "$b" "$needle"; then
          pids+=("$a")
          [[ $c == holder:* ]] && namespaces+=("$(readlink "/proc/$a/ns/mnt")")
        fi
        ;;
      esac
    done <"$dir/state"
  fi
  local name
  for name in "${netns[@]}"; do
    [[ -e /run/netns/$name ]] && namespaces+=("net:[$(stat -L -c %i "/run/netns/$name")]")
  done
  local -a stragglers
  mapfile -t stragglers < <(kit__processes_in_namespaces "${namespaces[@]}")
  local -a unrecorded=() p
  for p in "${stragglers[@]}"; do
    [[ " ${pids[*]} " == *" $p "* ]] || unrecorded+=("$p:$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60)")
  done
  ((${#unrecorded[@]} == 0)) ||
    echo "kit[$id]: stopping processes left inside the run's namespaces: ${unrecorded[*]}" >&2
  local -a victims
  mapfile -t victims < <(printf '%s\n' "${pids[@]}" "${stragglers[@]}" | grep . | sort -u)
  if ((${#victims[@]})); then
    kill -TERM "${victims[@]}" 2>/dev/null
    local left
    if ! left=$(kit__wait_gone 5 "${victims[@]}"); then
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
      # shellcheck disable=SC2086
      kit__wait_gone 5 $left >/dev/null
    fi
  fi
  local i
  for ((i = ${#netns[@]} - 1; i >= 0; i--)); do
    [[ -e /run/netns/${netns[i]} ]] && ip netns del "${netns[i]}" 2>/dev/null
  done
  rm -rf --one-file-system "$dir"
  exec {lock_fd}<&-
  rmdir "$KIT_ROOT" 2>/dev/null
  return 0
}
