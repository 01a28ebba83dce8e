#!/usr/bin/env bash
# Lambda proxy integration against HTTP_PROXY to the same handler, one run, side by side:
#   fn-http    the handler as a plain HTTP server (perf/function --http)     127.0.0.1:18091
#   tg-proxy   Tollgate GET /prod/proxy: HTTP_PROXY to that server            127.0.0.1:18093
#   tg-lambda  Tollgate GET /prod/lambda: AWS_PROXY to the same handler run as a local function
#              (`command`, served Tollgate's Runtime API by `lambda_runtime`), $WORKERS workers
# Load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency per target, targets alternated over $ROUNDS
# rounds, medians, ratios to tg-proxy. Then the cold start of each local worker (spawn to its
# first `next`), as Tollgate logs it.
#
# Env: DURATION=5 ROUNDS=3 CONNECTIONS=16 WARMUP=1 WORKERS=2 (the function's concurrency; wrk's
# connections beyond it queue, up to 10 per worker, as Tollgate's local functions do).
# Builds ${CARGO_TARGET_DIR:-target}/release/{tollgate,examples/perf_function} if missing or stale.
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-16}
WARMUP=${WARMUP:-1}
WORKERS=${WORKERS:-2}

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$PERF_DIR")
# shellcheck source=perf/lib.sh
. "$PERF_DIR/lib.sh"
RELEASE=${CARGO_TARGET_DIR:-$ROOT/target}/release
BIN=$RELEASE/tollgate
FN=$RELEASE/examples/perf_function
ADMIN=127.0.0.1:19093

require_tools wrk curl timeout awk sed
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP$WORKERS" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP, WORKERS must be integers" ;; esac
[ "$CONNECTIONS" -le $((WORKERS * 11)) ] || die "CONNECTIONS ($CONNECTIONS) over WORKERS x 11 would be throttled (429)"

release_build --example perf_function

start_run lambda-perf

for p in 18091 18093 19093; do port_busy "$p" && die "port $p is already in use"; done
"$FN" --http 127.0.0.1:18091 >"$TMP/fn-http.log" 2>&1 &
PIDS+=($!)
wait_up "perf_function --http" "$!" http://127.0.0.1:18091/prod/direct "$TMP/fn-http.log"

cat >"$TMP/tollgate.yaml" <<YAML
server: {listen: ["127.0.0.1:18093"], admin: "$ADMIN", threads: 1, gracePeriodSeconds: 1, throttle: {rateLimit: 100000000, burstLimit: 100000000}}
functions:
  hello: {command: ["$FN"], concurrency: $WORKERS, timeout: 3}
restApis:
  - id: perf
    resources:
      /proxy:
        GET:
          integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://127.0.0.1:18091/prod/proxy"}
      /lambda:
        GET:
          integration:
            type: AWS_PROXY
            httpMethod: POST
            uri: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello/invocations"
    stages: [{stageName: prod}]
YAML
"$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
TG_PID=$!
PIDS+=("$TG_PID")
wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"

names=(fn-http tg-proxy tg-lambda)
urls=(http://127.0.0.1:18091/prod/direct http://127.0.0.1:18093/prod/proxy http://127.0.0.1:18093/prod/lambda)
bodies=('{"message":"hello from direct"}' '{"message":"hello from proxy"}' '{"message":"hello from lambda"}')
labels=("handler as an HTTP server, direct" "Tollgate HTTP_PROXY to it" "Tollgate AWS_PROXY to it as a local function")
check_targets

# Every worker has started by now (each answered `next`); their cold starts are in the log.
for _ in $(seq 50); do
    [ "$(grep -c 'cold start' "$TMP/tollgate.log" || true)" -ge "$WORKERS" ] && break
    sleep 0.1
done
COLD=$(sed -n 's/.*function hello: worker [0-9]* (pid [0-9]*) ready, cold start \([0-9]*\) ms.*/\1/p' "$TMP/tollgate.log" | sort -n | tr '\n' ' ')
[ -n "$COLD" ] || die "no cold start logged for function hello"

measure_targets
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load"

echo
echo "## Lambda perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds alternated, medians;" \
    "Tollgate threads: 1; local function concurrency $WORKERS."
echo
ratio_table tg-proxy HTTP_PROXY
echo
echo "Cold start of each local worker (process spawn to its first Runtime API \`next\`): ${COLD% } ms."
