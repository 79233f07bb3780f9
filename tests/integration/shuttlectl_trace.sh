#!/usr/bin/env bash
# shuttlectl on a node with pods added by the plugin: `monitor --trace` shows forwarded
# packets with the pods' names and switches tracing off when it ends (count reached or
# SIGTERM); `status` shows map fill levels and shuttled's health (refused, 503, 200).
source "$(dirname "$0")/plugin_lib.bash"

c=$(conf 1.0.0)
ctl() { nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" "$@"; }
tracing() { ctl --json status --healthz-addr 127.0.0.1:1 | jq -r .trace; }
for k in 1 2; do
    cni_ok ADD "tr-$k" eth0 "$(new_pod "tr$k")" "$c" "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns-tr;K8S_POD_NAME=pod-$k"
done
[ "$(tracing)" = false ] || fail "tracing on before any monitor"

# --count: ends by itself after 3 events, flag cleared
ctl --json monitor --trace --count 3 --timeout 10000 >"$WORK/trace.json" &
mon=$!
for _ in $(seq 50); do [ "$(tracing)" = true ] && break; sleep 0.1; done
[ "$(tracing)" = true ] || fail "monitor --trace did not set the trace flag"
ip netns exec "$RUN-tr1" ping -c 3 -i 0.2 -W 1 10.99.1.3 >/dev/null || fail "ping between pods"
wait "$mon" || fail "monitor --trace failed"
[ "$(wc -l <"$WORK/trace.json")" = 3 ] || fail "want 3 events: $(cat "$WORK/trace.json")"
first=$(head -1 "$WORK/trace.json")
[ "$(echo "$first" | jq -r '.type + " " + .verdict + " " + .reason')" = "trace redirect local" ] ||
    fail "trace event: $first"
echo "$first" | jq -e '.src_pod == "ns-tr/pod-1" and .dst_pod == "ns-tr/pod-2" or
                       .src_pod == "ns-tr/pod-2" and .dst_pod == "ns-tr/pod-1"' >/dev/null ||
    fail "pod names missing: $first"
[ "$(tracing)" = false ] || fail "trace flag left on after monitor ended"
pass "monitor --trace shows forwarded packets with pod names, and clears the flag"

# text lines, and SIGTERM: the loop ends and clears the flag
# nsenter execs shuttlectl, so $! is shuttlectl itself; --timeout ends it should the test fail
nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" \
    monitor --trace --sample 1 --timeout 20000 >"$WORK/trace.txt" &
mon=$!
for _ in $(seq 50); do [ "$(tracing)" = true ] && break; sleep 0.1; done
ip netns exec "$RUN-tr2" ping -c 2 -i 0.2 -W 1 10.99.1.2 >/dev/null || fail "ping between pods"
sleep 0.3
kill -TERM "$mon"
wait "$mon" || fail "monitor exited non-zero after SIGTERM"
[ "$(tracing)" = false ] || fail "trace flag left on after SIGTERM"
grep -q '^redirect local ifindex [0-9]* 10.99.1.3 (ns-tr/pod-2) > 10.99.1.2 (ns-tr/pod-1)' "$WORK/trace.txt" ||
    fail "text trace line: $(head -3 "$WORK/trace.txt")"
pass "SIGTERM ends monitor --trace and clears the flag"

# SIGKILL: nothing clears the flag, but the monitor stops renewing its lease and the
# programs stop tracing within seconds (status says so too)
nsenter --net=/run/netns/"$NODE" "$BIN/shuttlectl" --bpffs-root "$BPFFS/shuttle" \
    monitor --trace --timeout 20000 >/dev/null &
mon=$!
for _ in $(seq 50); do [ "$(tracing)" = true ] && break; sleep 0.1; done
[ "$(tracing)" = true ] || fail "monitor --trace did not set the trace flag"
sleep 2.5  # past the first lease: the monitor renews it
[ "$(tracing)" = true ] || fail "trace lease not renewed by a running monitor"
kill -KILL "$mon"
wait "$mon" 2>/dev/null || true
for _ in $(seq 80); do [ "$(tracing)" = false ] && break; sleep 0.1; done
[ "$(tracing)" = false ] || fail "tracing still on 8 s after the monitor was killed"
ctl monitor --timeout 300 >/dev/null  # drain what the killed monitor left unread
ctl --json monitor --timeout 1500 >"$WORK/after-kill.json" &
mon=$!
ip netns exec "$RUN-tr1" ping -c 2 -i 0.2 -W 1 10.99.1.3 >/dev/null || fail "ping between pods"
wait "$mon"
[ ! -s "$WORK/after-kill.json" ] || fail "traced after the lease ended: $(cat "$WORK/after-kill.json")"
pass "a monitor killed with SIGKILL stops the tracing when its lease ends"

# without --trace, forwarded packets make no events
ctl --json monitor --timeout 1500 >"$WORK/quiet.json" &
mon=$!
ip netns exec "$RUN-tr1" ping -c 2 -i 0.2 -W 1 10.99.1.3 >/dev/null || fail "ping between pods"
wait "$mon"
[ ! -s "$WORK/quiet.json" ] || fail "events without --trace: $(cat "$WORK/quiet.json")"
pass "no trace events without --trace"

# status: fill levels and agent health
st=$(ctl --json status --healthz-addr 127.0.0.1:1)
[ "$(echo "$st" | jq -c '.maps.endpoints')" = '{"capacity":256,"used":2}' ] || fail "endpoints fill: $st"
[ "$(echo "$st" | jq -c '.maps.routes')" = '{"capacity":16384,"used":0}' ] || fail "routes fill: $st"
[ "$(echo "$st" | jq -r .agent.state)" = "not running" ] || fail "agent with nothing listening: $st"
ctl status --healthz-addr 127.0.0.1:1 | grep -q '^agent  shuttled not running' || fail "status text: $(ctl status)"
ctl status --healthz-addr 127.0.0.1:1 | grep -q '^endpoints  2/256' || fail "status text: $(ctl status)"

serve() {  # status body port: a one-shot /readyz
    node python3 -c '
import http.server, sys
code, body, port = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(code if self.path == "/readyz" else 404); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", port), H); print("up", flush=True); s.handle_request()
' "$@"
}
wait_up() { for _ in $(seq 50); do grep -q up "$1" 2>/dev/null && return; sleep 0.1; done; fail "test server"; }
serve 503 $'lease: not held\netcd: unreachable\nsubnet.env: missing\nfourth' 19465 >"$WORK/srv1" &
srv=$!
wait_up "$WORK/srv1"
st=$(ctl --json status --healthz-addr 127.0.0.1:19465)
wait "$srv"
[ "$(echo "$st" | jq -r .agent.state)" = "not ready" ] || fail "503: $st"
[ "$(echo "$st" | jq -r .agent.detail)" = "HTTP 503: lease: not held; etcd: unreachable; subnet.env: missing" ] ||
    fail "503 detail: $st"
serve 200 ok 19466 >"$WORK/srv2" &
srv=$!
wait_up "$WORK/srv2"
out=$(ctl status --healthz-addr 127.0.0.1:19466)
wait "$srv"
echo "$out" | grep -q '^agent  ready' || fail "200: $out"
pass "status shows map fill levels and shuttled's health"

for k in 1 2; do cni_ok DEL "tr-$k" eth0 "/run/netns/$RUN-tr$k" "$c"; done
expect_clean_node
