#!/usr/bin/env bash
# A keyed, throttled route against the same route open, one run, side by side:
#   tg-open    Tollgate GET /prod/open  (MOCK, static templates, no API key)           127.0.0.1:18095
#   tg-keyed   Tollgate GET /prod/keyed (the same MOCK, apiKeyRequired: the x-api-key lookup,
#              the usage plan's token bucket, the stage's methodSettings bucket, the account
#              bucket and the plan's MONTH quota counter on every request)
# Every limit is far above what the run can reach, so all requests must succeed: the table shows
# what checking them costs. wrk sends the API key to both routes (the open route ignores it).
# With REDIS=1 the bucket and quota are leased from Redis in blocks (one Redis call per block,
# in the background), the requests admitted from the leases.
# Load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency per target, targets alternated over $ROUNDS
# rounds, medians, ratios to tg-open.
#
# Env: DURATION=5 ROUNDS=3 CONNECTIONS=64 WARMUP=1 REDIS=0 (1: the bucket and quota are shared through a
# redis-server started here on 127.0.0.1:16395).
# Builds ${CARGO_TARGET_DIR:-target}/release/tollgate with `cargo build --release` if missing or stale.
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-1}
REDIS=${REDIS:-0}

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$PERF_DIR")
# shellcheck source=perf/lib.sh
. "$PERF_DIR/lib.sh"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate
ADMIN=127.0.0.1:19095
KEY=perf-key-0123456789abcdefghij

require_tools wrk curl timeout awk sed
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP$REDIS" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP, REDIS must be integers" ;; esac

release_build

start_run plans-perf

for p in 18095 19095; do port_busy "$p" && die "port $p is already in use"; done
REDIS_LINE=""
if [ "$REDIS" = 1 ]; then
    command -v redis-server >/dev/null || die "redis-server not found (scripts/deps.sh installs it)"
    port_busy 16395 && die "port 16395 is already in use"
    redis-server --port 16395 --bind 127.0.0.1 --save "" --appendonly no >"$TMP/redis.log" 2>&1 &
    PIDS+=($!)
    REDIS_LINE="  redis: redis://127.0.0.1:16395"
fi
cat >"$TMP/tollgate.yaml" <<YAML
server:
  listen: ["127.0.0.1:18095"]
  admin: "$ADMIN"
  threads: 1
  gracePeriodSeconds: 1
  stateDir: "$TMP/state"
  throttle: {rateLimit: 100000000, burstLimit: 100000000}
$REDIS_LINE
apiKeys: [{name: perf, value: "$KEY"}]
usagePlans:
  - name: perf
    apiKeys: [perf]
    apiStages: [{apiId: perf, stage: prod}]
    throttle: {rateLimit: 100000000, burstLimit: 100000000}
    quota: {limit: 1000000000000, period: MONTH}
restApis:
  - id: perf
    resources:
      /open:
        GET:
          integration:
            type: MOCK
            requestTemplates: {application/json: '{"statusCode": 200}'}
            integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"ok":true}'}}]
      /keyed:
        GET:
          apiKeyRequired: true
          integration:
            type: MOCK
            requestTemplates: {application/json: '{"statusCode": 200}'}
            integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"ok":true}'}}]
    stages:
      - stageName: prod
        methodSettings:
          "keyed/GET": {throttlingRateLimit: 100000000, throttlingBurstLimit: 100000000}
YAML
"$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
TG_PID=$!
PIDS+=("$TG_PID")
wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"
if [ "$REDIS" = 1 ]; then
    for _ in $(seq 50); do
        curl -s "http://$ADMIN/metrics" | grep -q '^tollgate_redis_up 1' && break
        sleep 0.1
    done
    curl -s "http://$ADMIN/metrics" | grep -q '^tollgate_redis_up 1' || die "tollgate did not connect to redis"
fi

headers=("x-api-key: $KEY" "x-api-key: $KEY")
names=(tg-open tg-keyed)
urls=(http://127.0.0.1:18095/prod/open http://127.0.0.1:18095/prod/keyed)
bodies=('{"ok":true}' '{"ok":true}')
labels=("Tollgate MOCK, open" "Tollgate MOCK, API key + usage plan throttle + quota")
check_targets

measure_targets
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load"
used=$(curl -s "http://$ADMIN/usageplans/perf/usage" | sed -n 's/.*"items":{"[^"]*":\[\[\([0-9]*\),.*/\1/p')
[ -n "$used" ] && [ "$used" -gt 0 ] || die "the usage plan counted nothing"

echo
echo "## Usage plan perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds alternated, medians;" \
    "Tollgate threads: 1; $used keyed requests counted by the plan's quota$([ "$REDIS" = 1 ] && echo ', shared through Redis')."

echo
ratio_table tg-open "open route"
