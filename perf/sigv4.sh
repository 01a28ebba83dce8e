#!/usr/bin/env bash
# What SigV4 verification costs: the same MOCK method with authorizationType NONE and AWS_IAM,
# one run, side by side:
#   tg-none   Tollgate GET /prod/open   (NONE)                                127.0.0.1:18095
#   tg-iam    Tollgate GET /prod/signed (AWS_IAM; a presigned URL made by botocore's
#             SigV4QueryAuth, valid 1 h: canonical request, two SHA-256 and an HMAC per request,
#             the signing key cached per day; then the identity policy)
# Load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency per target, targets alternated over
# $ROUNDS rounds, medians, ratios to tg-none.
#
# Env: DURATION=5 ROUNDS=3 CONNECTIONS=64 WARMUP=1. Needs python3 with botocore
# (scripts/deps.sh). Builds ${CARGO_TARGET_DIR:-target}/release/tollgate if missing or stale.
set -euo pipefail

DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-1}

PERF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$PERF_DIR")
# shellcheck source=perf/lib.sh
. "$PERF_DIR/lib.sh"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tollgate
ADMIN=127.0.0.1:19095
LISTEN=127.0.0.1:18095

require_tools wrk curl timeout awk sed python3
python3 -c 'import botocore' 2>/dev/null || die "python3 botocore not found (scripts/deps.sh)"
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP must be integers" ;; esac
[ $(((DURATION * ROUNDS + WARMUP) * 2)) -lt 3000 ] || die "the run would outlast the presigned URL (1 h)"

release_build

start_run sigv4-perf

for p in 18095 19095; do port_busy "$p" && die "port $p is already in use"; done
cat >"$TMP/tollgate.yaml" <<YAML
server: {listen: ["$LISTEN"], admin: "$ADMIN", threads: 1, gracePeriodSeconds: 1, throttle: {rateLimit: 100000000, burstLimit: 100000000}}
iam:
  users:
    - name: perf
      accessKeyId: AKIDPERF
      secretAccessKey: perf-secret
      policies: [{Statement: [{Effect: Allow, Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:*:*:perf/*"}]}]
restApis:
  - id: perf
    resources:
      /open:
        GET:
          authorizationType: NONE
          methodResponses: [{statusCode: "200"}]
          integration:
            type: MOCK
            requestTemplates: {application/json: '{"statusCode": 200}'}
            integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"ok":true}'}}]
      /signed:
        GET:
          authorizationType: AWS_IAM
          methodResponses: [{statusCode: "200"}]
          integration:
            type: MOCK
            requestTemplates: {application/json: '{"statusCode": 200}'}
            integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '{"ok":true}'}}]
    stages: [{stageName: prod}]
YAML
"$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
TG_PID=$!
PIDS+=("$TG_PID")
wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"

SIGNED=$(printf '[{"mode":"query","method":"GET","url":"http://%s/prod/signed","key":"AKIDPERF","secret":"perf-secret","expires":3600}]' "$LISTEN" |
    python3 "$ROOT/tests/iam/sign.py" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["url"])')

names=(tg-none tg-iam)
urls=("http://$LISTEN/prod/open" "$SIGNED")
bodies=('{"ok":true}' '{"ok":true}')
labels=("Tollgate MOCK, authorizationType NONE" "Tollgate MOCK, AWS_IAM (presigned SigV4)")
check_targets
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$LISTEN/prod/signed")" = 403 ] || die "the AWS_IAM method answered an unsigned request"

measure_targets
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load"

echo
echo "## SigV4 perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds alternated, medians;" \
    "Tollgate threads: 1."
echo
ratio_table tg-none NONE
