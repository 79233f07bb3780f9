#!/usr/bin/env bash
# Fault matrix: the wall clock jumps (+25 h, then back to -25 h) under one node's shuttled
# while its lease TTL is 10 s. The nodes share CLOCK_REALTIME, so the jump is injected into
# that shuttled alone with libfaketime (LD_PRELOAD, offset re-read from a file, the
# monotonic clocks left real). shuttled times renewals, checks and backoff on the steady
# (monotonic) clock and uses the wall clock only for its log's timestamps; etcd counts the
# lease's TTL itself. So: the log shows the jumps, the lease is renewed on time throughout
# (never lost, never re-acquired), subnet.env and the peers' routes stay, and a ping across
# nodes loses nothing.
source "${SHUTTLE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/agent_cluster_lib.bash"

faketime_lib=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
[[ -e $faketime_lib ]] || fail "missing $faketime_lib (Debian package libfaketime)"
agent_cluster_up 2
offset=$(kit_run_dir)/faketime-offset
echo "+0" >"$offset"
start_shuttled n2 --subnet-lease-ttl 10s --subnet-lease-renew-margin 5s
kit_node_spawn n1 "$(kit_run_dir)/shuttled-n1.log" LD_PRELOAD="$faketime_lib" \
  FAKETIME_TIMESTAMP_FILE="$offset" FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
  "$bin/shuttled" --etcd-endpoints "$(kit_etcd_endpoint)" --iface eth0 \
  --subnet-lease-ttl 10s --subnet-lease-renew-margin 5s
SHUTTLED_PID[n1]=$KIT_LAST_PID
for n in n1 n2; do wait_ready "$n"; done
key=$(node_subnet_key n1)
value=$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/$key")
env_before=$(kit_node_exec n1 cat /run/flannel/subnet.env)
wait_until 10 "n2 routes n1" routes_are n2 "${key/-//}"
ip1=$(add_pod n1 c1)
ip2=$(add_pod n2 c2)
assert_ok "c1 -> c2" pod_ping c1 "$ip2"

etcd_lease() { kit_etcdctl get -w json "/coreos.com/network/subnets/$key" | grep -o '"lease":[0-9]*'; }
renewals() { grep -c "renewed $(tr - / <<<"$key")" "$(kit_run_dir)/shuttled-n1.log" || true; }
ping_log=$(kit_run_dir)/ping.log
# Pings from before the first jump until after the last one (stopped there: SIGINT makes ping
# print its totals), not for a fixed count that outlasts the jumps by ~10 s.
kit_pod_spawn c2 "$ping_log" ping -i 0.2 -W 1 "$ip1"
pinger=$KIT_LAST_PID

for jump in +25h -25h +0; do
  lease_before=$(etcd_lease)
  renewed_before=$(renewals)
  echo "$jump" >"$offset"
  wait_until 20 "a renewal after the jump to $jump" eval '(( $(renewals) > renewed_before ))'
  wait_until 5 "the etcd lease moves on" eval '[[ $(etcd_lease) != "$lease_before" ]]'
  assert_eq "$value" "$(kit_etcdctl get --print-value-only "/coreos.com/network/subnets/$key")" "lease value after $jump"
  assert_ok "n1 ready after $jump" kit_node_exec n1 curl -sf http://127.0.0.1:9465/readyz
  last_stamp=$(grep "renewed" "$(kit_run_dir)/shuttled-n1.log" | tail -1 | cut -c1-10)
  echo "clock $jump: renewed, shuttled's log stamps $last_stamp (real date $(date -u +%F))"
done
case "$(grep renewed "$(kit_run_dir)/shuttled-n1.log" | cut -c1-10 | sort -u | wc -l)" in
  3) ;;
  *) fail "the log does not show three dates: libfaketime did not move shuttled's wall clock" ;;
esac
sleep 1 # a second of pings after the last renewal too
stop_pinger "$pinger"
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$ping_log")
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$ping_log")
# the three jumps take three renewals, 5 s apart: some 10 s of pings at least (5 a second)
((sent >= 40)) || fail "ping through the jumps: only $sent sent ($(tail -2 "$ping_log"))"
((received >= sent - 2)) || fail "ping through the jumps: $received of $sent ($(tail -2 "$ping_log"))"
assert_eq 1 "$(grep -c "leased " "$(kit_run_dir)/shuttled-n1.log")" "leased once, never re-acquired"
assert_not_contains "$(shuttled_log n1)" "re-acquiring" "no lease lost"
assert_eq "$env_before" "$(kit_node_exec n1 cat /run/flannel/subnet.env)" "subnet.env unchanged"
assert_ok "n2 still routes n1" routes_are n2 "${key/-//}"
pass "wall clock jumps of +25 h and -25 h: lease renewed on time, kept, $received/$sent pings"
