# Helpers for shell tests that need a real etcd on 127.0.0.1 (sourced, not run).
# etcd_setup NAME makes $WORK and a trap that stops every tracked PID and removes $WORK.

PIDS=()
track_pid() { PIDS+=("$1"); }
# untrack_pid PID: after it was reaped (its number may be reused: cleanup must not signal it)
untrack_pid() {
    local p kept=()
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || kept+=("$p"); done
    PIDS=("${kept[@]}")
}

fail() {
    echo "FAIL: $*" >&2
    for log in "$WORK"/*.log; do
        [[ -f $log ]] && { echo "---- $log" >&2; tail -n 30 "$log" >&2; }
    done
    exit 1
}

# A random port that nothing listens on, below the kernel's ephemeral range (32768-60999):
# a port from that range, free now, can become some connection's local port (tests run in
# parallel) before etcd or shuttled binds it, or while a test has etcd stopped.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 12000))
        ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return; }
    done
}

# Retries for 45 s: the suite runs in parallel, and etcd or shuttled start slower on a busy
# machine; a wait ends as soon as its condition holds. 45 s of the clock, not a count of tries:
# a try can take seconds itself (etcdctl towards an etcd that is gone waits out its timeouts).
wait_for() {  # description command...
    local what=$1 deadline=$((SECONDS + 45))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out waiting for: $what"
        sleep 0.1
    done
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        { wait "$pid"; } 2>/dev/null || true
    done
    rm -rf "$WORK"
}

etcd_setup() {
    WORK=$(mktemp -d "/tmp/shuttle-$1.XXXXXX")
    trap cleanup EXIT
    ETCD_CLIENT_PORT=$(free_port)
    ETCD_PEER_PORT=$(free_port)
    ETCD_METRICS_PORT=$(free_port)
    ETCD_SCHEME=${ETCD_SCHEME:-http}
    ETCD_URL=$ETCD_SCHEME://127.0.0.1:$ETCD_CLIENT_PORT
    ETCD_EXTRA=()
    ETCDCTL_EXTRA=()
}

# Starts etcd and waits until it answers; fails at once if it exits instead (its log says why).
# A port found free by free_port can be taken before etcd binds it (other tests and suites
# pick ports too): the first start of a test then takes new ports, up to 3 times; a restart
# keeps its ports (shuttled has the URL), and its bind failure fails the test.
etcd_start() {
    local tries=0
    while :; do
        etcd_launch
        etcd_wait_healthy && { ETCD_STARTED=1; return 0; }
        tries=$((tries + 1))
        if [[ -z ${ETCD_STARTED:-} && $tries -lt 3 ]] &&
            grep -q 'bind: address already in use' <<<"$(tail -n 5 "$WORK/etcd.log")"; then
            echo "etcd: a port was taken before etcd bound it; new ports" >&2
            ETCD_CLIENT_PORT=$(free_port)
            ETCD_PEER_PORT=$(free_port)
            ETCD_METRICS_PORT=$(free_port)
            ETCD_URL=$ETCD_SCHEME://127.0.0.1:$ETCD_CLIENT_PORT
            rm -rf "$WORK/etcd-data"
            continue
        fi
        fail "etcd exited before it answered (see etcd.log)"
    done
}

etcd_launch() {
    local peer=http://127.0.0.1:$ETCD_PEER_PORT
    etcd --name s1 --data-dir "$WORK/etcd-data" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "s1=$peer" --initial-cluster-state new \
        --listen-metrics-urls "http://127.0.0.1:$ETCD_METRICS_PORT" \
        --heartbeat-interval 10 --election-timeout 100 "${ETCD_EXTRA[@]}" \
        >>"$WORK/etcd.log" 2>&1 &
    ETCD_PID=$!
    track_pid "$ETCD_PID"
}

# etcd runs (an exited child stays a zombie until reaped, and kill -0 finds zombies)
etcd_alive() {
    local stat
    stat=$(cat "/proc/$ETCD_PID/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != [ZX] ]]
}

# etcd_wait_healthy: 0 once etcd answers; 1 as soon as it has exited; the test fails after 45 s.
etcd_wait_healthy() {
    local deadline=$((SECONDS + 45))
    until etcdctl --endpoints="$ETCD_URL" "${ETCDCTL_EXTRA[@]}" --dial-timeout=1s --command-timeout=2s \
        endpoint health >/dev/null 2>&1; do
        if ! etcd_alive; then
            wait "$ETCD_PID" 2>/dev/null || true
            untrack_pid "$ETCD_PID"
            return 1
        fi
        ((SECONDS < deadline)) || fail "timed out waiting for: etcd ready"
        sleep 0.1
    done
}

etcd_stop() {
    kill -TERM "$ETCD_PID"
    wait "$ETCD_PID" 2>/dev/null || true
    untrack_pid "$ETCD_PID"
}

# make_certs DIR: CA + server certificate for 127.0.0.1 + client certificate (EC P-256, 1 day).
make_certs() {
    local dir=$1 who k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
    (
        cd "$dir"
        openssl req -x509 $k -keyout ca.key -out ca.crt -days 1 -subj /CN=shuttle-test-ca
        for who in server client; do
            openssl req $k -keyout $who.key -out $who.csr -subj /CN=$who
            printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >$who.ext
            openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
                -extfile $who.ext -out $who.crt
        done
    ) >>"$WORK/openssl.log" 2>&1
}
