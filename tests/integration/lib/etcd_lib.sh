# Helpers for shell tests that need a real etcd on 127.0.0.1 (sourced, not run).
# etcd_setup NAME makes $WORK and a trap that stops every tracked PID and removes $WORK.

PIDS=()
track_pid() { PIDS+=("$1"); }

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
# machine; a wait ends as soon as its condition holds.
wait_for() {  # description command...
    local what=$1
    shift
    for _ in $(seq 450); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "timed out waiting for: $what"
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

etcd_start() {
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
    wait_for "etcd ready" etcdctl --endpoints="$ETCD_URL" "${ETCDCTL_EXTRA[@]}" endpoint health
}

etcd_stop() {
    kill -TERM "$ETCD_PID"
    wait "$ETCD_PID" 2>/dev/null || true
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
