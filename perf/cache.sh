#!/usr/bin/env bash
# Cache-hit throughput, side by side on loopback:
#   nginx     nginx proxy_pass to the backend (1 worker)                     127.0.0.1:18082
#   tg-cached Tollgate GET /prod/cached: HTTP_PROXY served from the stage cache 127.0.0.1:18085
#   tg-proxy  Tollgate GET /prod/proxy: the same integration, caching off
# (backend: nginx `return 200`, 1 worker, 127.0.0.1:18081). Tollgate runs with threads: 1.
# Load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency per target, targets alternated over
# $ROUNDS rounds, medians with ratios to nginx. The goal is a cache-hit throughput of at least
# $GOAL x nginx proxy_pass; the run also checks that the load on /prod/cached was served from
# the cache (tollgate_cache_hits_total) and reports the verdict. Exit 1 on any failure or
# when the goal is missed.
#
# Env: DURATION=5 ROUNDS=3 CONNECTIONS=64 WARMUP=1 GOAL=1.5.
# Builds ${CARGO_TARGET_DIR:-target}/release/tollgate with `cargo build --release` if missing
# or older than the sources.
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-1}
GOAL=${GOAL:-1.5}

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$PERF_DIR")
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate
ADMIN=127.0.0.1:19085

# shellcheck source=perf/lib.sh
. "$PERF_DIR/lib.sh"

require_tools nginx wrk curl timeout awk sed
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP must be integers" ;; esac

release_build

start_run cache-perf

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

for p in 18085 19085; do port_busy "$p" && die "port $p is already in use"; done
mkdir -p "$TMP/state"
sed "s|@STATE_DIR@|$TMP/state|g" "$PERF_DIR/tollgate-cache.yaml" >"$TMP/tollgate.yaml"
"$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
TG_PID=$!
PIDS+=("$TG_PID")
wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"

names=(nginx tg-cached tg-proxy)
urls=(http://127.0.0.1:18082/ http://127.0.0.1:18085/prod/cached http://127.0.0.1:18085/prod/proxy)
bodies=('{"message":"hello from backend"}' '{"message":"hello from backend"}' '{"message":"hello from backend"}')
labels=("nginx proxy_pass" "Tollgate /prod/cached (cache hits)" "Tollgate /prod/proxy (no cache)")

counter() { # NAME: the counter's value for /prod/cached, from the admin listener
    curl -s --max-time 2 "http://$ADMIN/metrics" | awk -v n="$1" '$1 ~ "^"n"\\{" && $1 ~ /resource="\/cached"/ { s += $NF } END { printf "%d\n", s }'
}

# The first request to /prod/cached fills the entry; the load then only hits it.
check_targets
hits_before=$(counter tollgate_cache_hits_total)
misses_before=$(counter tollgate_cache_misses_total)
measure_targets
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load"
hits=$(($(counter tollgate_cache_hits_total) - hits_before))
misses=$(($(counter tollgate_cache_misses_total) - misses_before))

echo
echo "## Tollgate cache-hit perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) $(nginx -v 2>&1 | sed 's/.*version: //'). Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency," \
    "$ROUNDS rounds alternated, medians; no CPU pinning."
echo
ratio_table nginx "nginx proxy"
echo
echo "Cache on /prod/cached during the load: $hits hits, $misses misses."

status=0
[ "$misses" = 0 ] || { log "FAIL: $misses cache misses during the load (expected every request to hit)"; status=1; }
for name in "${names[@]}"; do
    [ "${ERRS[$name]}" = 0 ] || { log "FAIL: $name had ${ERRS[$name]} errors"; status=1; }
done
ratio=$(awk -v a="${RPS[tg-cached]}" -v b="${RPS[nginx]}" 'BEGIN { printf "%.2f", a / b }')
if awk -v r="$ratio" -v g="$GOAL" 'BEGIN { exit !(r >= g) }'; then
    echo "Cache hits: ${ratio}x nginx proxy_pass (goal ${GOAL}x): met."
else
    echo "Cache hits: ${ratio}x nginx proxy_pass (goal ${GOAL}x): NOT met."
    status=1
fi
exit "$status"
