#!/usr/bin/env bash
# Side by side: the same closed-loop load against a 3-node Pangea cluster and a 3-member etcd
# cluster, both on loopback on this machine, plus Pangea's idle memory and CPU.
#
# Usage: benches/etcd-compare/run.sh [--clients N,...] [--value-bytes B,...] [--seconds S] [--keys K]
#                                    [--read-percent P] [--idle-seconds I] [--breakdown]
# Every combination of the listed client counts and value sizes runs against both clusters, one
# after the other, and a table sums them up. Defaults: --clients 1,32,128 --value-bytes 100
# --seconds 10 (the rest as in `pangea bench`), --idle-seconds 10. --breakdown prints, after each
# Pangea run, where its time went stage by stage (`pangea bench --breakdown`). While one cluster
# is under load the other is paused (SIGSTOP), so that its background work (etcd's compaction
# and Go's collector, Pangea's checkpoints) is not charged to the one measured.
# Installs etcd (Debian's etcd-server and etcd-client) and protoc (protobuf-compiler) with apt-get
# when they are missing. Everything it starts is killed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DEADLINE=60 # seconds to wait for a cluster to form

clients_list=1,32,128
values_list=100
seconds=10
idle_seconds=10
extra=()
pangea_extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) clients_list="$2"; shift 2 ;;
        --value-bytes) values_list="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --idle-seconds) idle_seconds="$2"; shift 2 ;;
        --keys | --read-percent) extra+=("$1" "$2"); shift 2 ;;
        --breakdown) pangea_extra+=(--breakdown); shift ;;
        -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
for list in "$clients_list" "$values_list"; do
    [[ "$list" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "not a comma-separated list of numbers: $list" >&2; exit 2; }
done
IFS=, read -r -a clients_each <<< "$clients_list"
IFS=, read -r -a values_each <<< "$values_list"

log() { echo "== $*" >&2; }

# --- Tools ---
missing=()
command -v etcd > /dev/null || missing+=(etcd-server)
command -v etcdctl > /dev/null || missing+=(etcd-client)
command -v protoc > /dev/null || missing+=(protobuf-compiler)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi

log "building pangea and etcd-bench (release)"
(cd "$ROOT" && cargo build --release --quiet -p pangea-node --bin pangea \
    -p pangea-etcd-compare --features pangea-etcd-compare/etcd --bin etcd-bench)
PANGEA="$TARGET/release/pangea"
ETCD_BENCH="$TARGET/release/etcd-bench"

# --- Cleanup ---
WORK="$(mktemp -d -t pangea-vs-etcd.XXXXXX)"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -CONT "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port free for both TCP and UDP on loopback, not handed out before in this run.
used_ports=" "
free_port() {
    local port
    while :; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        case "$used_ports" in *" $port "*) continue ;; esac
        if python3 -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $port))" 2> /dev/null; then
            used_ports="$used_ports$port "
            echo "$port"
            return
        fi
    done
}

wait_until() { # wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds or DEADLINE passes
    local what="$1"
    shift
    local end=$((SECONDS + DEADLINE))
    until "$@" > /dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            log "$what: not reached within ${DEADLINE}s; logs in $WORK:"
            tail -n 20 "$WORK"/*.log >&2 || true
            trap - EXIT
            cleanup_keep_logs
            exit 1
        fi
        sleep 0.2
    done
}
cleanup_keep_logs() {
    local pid
    for pid in "${pids[@]}"; do kill -CONT "$pid" 2> /dev/null || true; done
    for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    echo "(logs kept in $WORK)" >&2
}

# --- etcd: 3 members, static bootstrap ---
etcd_pids=()
etcd_endpoints=()
initial_cluster=""
declare -a etcd_client_ports etcd_peer_ports
for i in 0 1 2; do
    etcd_client_ports[i]=$(free_port)
    etcd_peer_ports[i]=$(free_port)
    initial_cluster+="${initial_cluster:+,}e$i=http://127.0.0.1:${etcd_peer_ports[i]}"
    etcd_endpoints+=("127.0.0.1:${etcd_client_ports[i]}")
done
ETCD_ENDPOINTS="$(
    IFS=,
    echo "${etcd_endpoints[*]}"
)"
log "starting etcd $(etcd --version | head -n 1 | awk '{print $3}') at $ETCD_ENDPOINTS"
for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$WORK/e$i" \
        --listen-client-urls "http://127.0.0.1:${etcd_client_ports[i]}" \
        --advertise-client-urls "http://127.0.0.1:${etcd_client_ports[i]}" \
        --listen-peer-urls "http://127.0.0.1:${etcd_peer_ports[i]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer_ports[i]}" \
        --initial-cluster "$initial_cluster" --initial-cluster-token pangea-vs-etcd \
        --initial-cluster-state new > "$WORK/etcd$i.log" 2>&1 &
    pids+=($!)
    etcd_pids+=($!)
done
etcd_healthy() {
    ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=2s endpoint health 2>&1 |
        grep -c "is healthy" | grep -qx 3
}
wait_until "etcd healthy on 3 members" etcd_healthy

# --- Pangea: 3 nodes, joined through the first ---
pangea_addrs=()
for i in 0 1 2; do pangea_addrs+=("127.0.0.1:$(free_port)"); done
PANGEA_NODES="$(
    IFS=,
    echo "${pangea_addrs[*]}"
)"
init_out="$(RUST_LOG=warn "$PANGEA" init --data-dir "$WORK/p0")"
key="$(sed -n 's/^cluster key: *//p' <<< "$init_out")"
TOKEN="$(sed -n 's/^client token: *//p' <<< "$init_out")"
for i in 1 2; do
    RUST_LOG=warn "$PANGEA" init --data-dir "$WORK/p$i" --cluster-key "$key" --client-token "$TOKEN" > /dev/null
done
log "starting pangea at $PANGEA_NODES"
pangea_pids=()
for i in 0 1 2; do
    bootstrap=()
    [ "$i" -gt 0 ] && bootstrap=(--bootstrap "${pangea_addrs[0]}")
    RUST_LOG=warn "$PANGEA" node --data-dir "$WORK/p$i" --listen "${pangea_addrs[i]}" "${bootstrap[@]}" \
        > "$WORK/pangea$i.log" 2>&1 &
    pids+=($!)
    pangea_pids+=($!)
done
pangea_formed() { # every node reports 3 members and knows a leader
    local status
    status="$(RUST_LOG=warn "$PANGEA" status --node "$PANGEA_NODES" --token "$TOKEN" --timeout 2)" || return 1
    [ "$(grep -c '^  members: *epoch [0-9]* \[[^ ]* [^ ]* [^ ]*\]$' <<< "$status")" -eq 3 ] || return 1
    [ "$(grep -c '^  role: *\(leader\|follower of [0-9a-f]\)' <<< "$status")" -eq 3 ]
}
wait_until "pangea cluster of 3 members" pangea_formed

# --- Pangea idle: RSS and CPU time over a quiet window ---
TICKS="$(getconf CLK_TCK)"
cpu_ticks() { # utime + stime of PID (fields 14 and 15 of /proc/PID/stat, counted after the command name)
    local stat
    stat="$(< "/proc/$1/stat")"
    stat="${stat##*) }"
    awk '{print $12 + $13}' <<< "$stat"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
declare -a ticks_before
for i in 0 1 2; do ticks_before[i]=$(cpu_ticks "${pangea_pids[i]}"); done
log "sampling pangea idle for ${idle_seconds}s"
sleep "$idle_seconds" # the measurement window itself
echo "pangea idle over ${idle_seconds}s:"
for i in 0 1 2; do
    pid="${pangea_pids[i]}"
    used=$(($(cpu_ticks "$pid") - ticks_before[i]))
    awk -v node="$i" -v rss="$(rss_kib "$pid")" -v used="$used" -v hz="$TICKS" -v window="$idle_seconds" \
        'BEGIN { printf "  node %d: RSS %.1f MiB, CPU %.2f s (%.2f%% of one core)\n",
                 node, rss / 1024, used / hz, 100 * used / hz / window }'
done

# --- The load: every client count and value size, Pangea then etcd ---
ops() { sed -n 's/.* = \([0-9.]*\) ops\/s.*/\1/p' <<< "$1"; }
p50() { sed -n 's/.* p50 \([0-9.]*\) ms.*/\1/p' <<< "$1"; }
p99() { sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p' <<< "$1"; }
rows=()
for value_bytes in "${values_each[@]}"; do
    for clients in "${clients_each[@]}"; do
        bench_args=(--clients "$clients" --value-bytes "$value_bytes" --seconds "$seconds" "${extra[@]}")
        log "pangea bench ${bench_args[*]}"
        kill -STOP "${etcd_pids[@]}"
        pangea_out="$(RUST_LOG=warn "$PANGEA" bench --node "$PANGEA_NODES" --token "$TOKEN" "${bench_args[@]}" \
            "${pangea_extra[@]}")"
        kill -CONT "${etcd_pids[@]}"
        pangea_line="$(head -n 1 <<< "$pangea_out")"
        log "etcd-bench ${bench_args[*]}"
        kill -STOP "${pangea_pids[@]}"
        etcd_line="$("$ETCD_BENCH" --endpoints "$ETCD_ENDPOINTS" "${bench_args[@]}")"
        kill -CONT "${pangea_pids[@]}"
        echo "pangea ($value_bytes B): $pangea_line"
        if [ ${#pangea_extra[@]} -gt 0 ]; then tail -n +2 <<< "$pangea_out"; fi
        echo "etcd   ($value_bytes B): $etcd_line"
        rows+=("$(awk -v c="$clients" -v v="$value_bytes" \
            -v po="$(ops "$pangea_line")" -v eo="$(ops "$etcd_line")" \
            -v p5="$(p50 "$pangea_line")" -v e5="$(p50 "$etcd_line")" \
            -v p9="$(p99 "$pangea_line")" -v e9="$(p99 "$etcd_line")" \
            'BEGIN { printf "| %7d | %7d | %9.0f | %9.0f | %5s | %6.2f / %6.2f | %6.2f / %6.2f | %5s |",
                     c, v, po, eo, (eo > 0 ? sprintf("%.2f", po / eo) : "n/a"),
                     p5, p9, e5, e9, (e9 > 0 ? sprintf("%.2f", p9 / e9) : "n/a") }')")
    done
done
echo
echo "| clients | value B | pangea/s |   etcd/s | ratio | pangea p50 / p99 |   etcd p50 / p99 | p99 ratio |"
echo "| ------- | ------- | --------- | --------- | ----- | ---------------- | ---------------- | --------- |"
printf '%s\n' "${rows[@]}"
