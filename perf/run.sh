#!/usr/bin/env bash
# Loopback load test, one run, side by side:
#   backend   nginx `return 200` (1 worker)                 127.0.0.1:18081
#   nginx     nginx proxy_pass to backend (1 worker)        127.0.0.1:18082
#   tg-proxy  Tollgate GET /prod/proxy (HTTP_PROXY, threads:1) 127.0.0.1:18083
#   tg-mock   Tollgate GET /prod/mock  (MOCK, static templates)
#   tg-pets   Tollgate GET /prod/pets  (MOCK rendering AWS's "pets" Velocity template)
#   pingora   a bare Pingora proxy (perf/bare: only upstream_peer, 1 thread) 127.0.0.1:18084,
#             the yardstick for what Tollgate adds to Pingora
# Load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency per target, targets alternated over
# $ROUNDS rounds (start rotated each round), medians reported with ratios to the nginx proxy.
# Then: Tollgate RSS idle/after load and a reload-under-load check (20 SIGHUPs during 10 s of
# load; wrk must see no non-2xx responses and no socket errors).
#
# Env: DURATION=5 ROUNDS=3 CONNECTIONS=64 WARMUP=1 (s per target) TOLLGATE=1 (0: nginx only).
# Builds ${CARGO_TARGET_DIR:-target}/release/tollgate with `cargo build --release` if missing or older than sources.
# Everything is started here, in a temp dir, and killed on exit. Exit 1 on any failure,
# including a failed reload check. No CPU pinning: on the 2-core machine wrk, the proxy under
# test and the backend share both cores, and pinning was not shown to help.
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-1}
TOLLGATE=${TOLLGATE:-1}

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$PERF_DIR")
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate
BARE=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bare_proxy
ADMIN=127.0.0.1:19083

# shellcheck source=perf/lib.sh
. "$PERF_DIR/lib.sh"

require_tools nginx wrk curl timeout awk sed
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP must be integers" ;; esac

if [ "$TOLLGATE" = 1 ]; then release_build --example bare_proxy; fi

start_run perf

start_nginx() { # NAME CONF PORT
    local dir=$TMP/$1
    mkdir -p "$dir/tmp"
    port_busy "$3" && die "port $3 is already in use"
    nginx -p "$dir/" -c "$PERF_DIR/$2" -e "$dir/error.log" &
    PIDS+=($!)
    wait_up "nginx $1" "$!" "http://127.0.0.1:$3/" "$dir/error.log"
}

start_nginx backend nginx-backend.conf 18081
start_nginx proxy nginx-proxy.conf 18082

names=(backend nginx)
urls=(http://127.0.0.1:18081/ http://127.0.0.1:18082/)
bodies=('{"message":"hello from backend"}' '{"message":"hello from backend"}')
labels=("backend direct (nginx return)" "nginx proxy_pass")

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

if [ "$TOLLGATE" = 1 ]; then
    for p in 18083 19083; do port_busy "$p" && die "port $p is already in use"; done
    mkdir -p "$TMP/state"
    sed "s|@STATE_DIR@|$TMP/state|g" "$PERF_DIR/tollgate-perf.yaml" >"$TMP/tollgate.yaml"
    "$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
    TG_PID=$!
    PIDS+=("$TG_PID")
    wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"
    sleep 1
    RSS_IDLE=$(rss_mib "$TG_PID")
    names+=(tg-proxy tg-mock tg-pets)
    urls+=(http://127.0.0.1:18083/prod/proxy http://127.0.0.1:18083/prod/mock http://127.0.0.1:18083/prod/pets)
    bodies+=('{"message":"hello from backend"}' '{"message":"hello from mock"}' "$(printf '%s\n' '{"stage": "prod", "pets": [' '  {"id": 1, "type": "dog", "price": 249.99},' '  {"id": 2, "type": "cat", "price": 124.99},' '  {"id": 3, "type": "fish", "price": 0.99}' ']}')")
    labels+=("Tollgate /prod/proxy (HTTP_PROXY)" "Tollgate /prod/mock (MOCK)" "Tollgate /prod/pets (MOCK + pets template)")

    port_busy 18084 && die "port 18084 is already in use"
    "$BARE" 127.0.0.1:18084 127.0.0.1:18081 >"$TMP/bare.log" 2>&1 &
    PIDS+=($!)
    wait_up "bare pingora" "$!" "http://127.0.0.1:18084/" "$TMP/bare.log"
    names+=(pingora)
    urls+=(http://127.0.0.1:18084/)
    bodies+=('{"message":"hello from backend"}')
    labels+=("bare Pingora proxy (reference)")
fi

check_targets
measure_targets
echo
echo "## Tollgate perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) $(nginx -v 2>&1 | sed 's/.*version: //'). Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency," \
    "$ROUNDS rounds alternated, medians; no CPU pinning."
echo
ratio_table nginx "nginx proxy"

status=0
if [ "$TOLLGATE" = 1 ]; then
    kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load (see above)"
    RSS_LOADED=$(rss_mib "$TG_PID")

    # Reload under load: 20 SIGHUPs, 0.4 s apart, during 10 s of wrk on /prod/proxy.
    reloads() { curl -s --max-time 2 "http://$ADMIN/metrics" | awk '/^tollgate_config_reloads_total\{.*result="success"/ { s += $NF } END { print s + 0 }'; }
    before=$(reloads)
    run_wrk http://127.0.0.1:18083/prod/proxy 10 "$TMP/wrk-reload.txt" >"$TMP/reload-res" &
    wrk_job=$!
    sleep 0.5
    for _ in $(seq 20); do
        kill -HUP "$TG_PID" 2>/dev/null || break
        sleep 0.4
    done
    wait "$wrk_job" || die "wrk failed during the reload check"
    read -r r_rps _ r_err <"$TMP/reload-res"
    alive=yes
    kill -0 "$TG_PID" 2>/dev/null || alive=no
    after=$([ $alive = yes ] && reloads || echo "$before")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$TMP/wrk-reload.txt")
    sockerr=$(sed -n 's/^ *Socket errors: //p' "$TMP/wrk-reload.txt")
    verdict=PASS
    if [ "$r_err" != 0 ] || [ $alive = no ]; then verdict=FAIL; status=1; fi
    echo
    echo "Tollgate RSS: ${RSS_IDLE} MiB idle after startup, ${RSS_LOADED} MiB after the load rounds, $([ $alive = yes ] && rss_mib "$TG_PID" || echo '?') MiB after the reload check."
    echo
    echo "Reload under load: 20 SIGHUPs every 0.4 s during wrk -d10s on /prod/proxy: $r_rps req/s," \
        "non-2xx ${non2xx:-0}, socket errors: ${sockerr:-none}, successful reloads counted $(awk -v a="$after" -v b="$before" 'BEGIN { print a - b }')," \
        "process alive: $alive → **$verdict**"
    [ $alive = yes ] || tail -n 30 "$TMP/tollgate.log" >&2
fi
exit $status
