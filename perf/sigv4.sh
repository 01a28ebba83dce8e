#!/usr/bin/env bash
# What SigV4 verification costs: the same methods with authorizationType NONE and AWS_IAM,
# one run, side by side:
#   backend   nginx `return 200` (1 worker)                                 127.0.0.1:18081
#   tg-none   Tollgate GET /prod/open   (MOCK, NONE)                        127.0.0.1:18095
#   tg-iam    Tollgate GET /prod/signed (MOCK, AWS_IAM; a presigned URL made by botocore's
#             SigV4QueryAuth, valid 1 h: the first request is verified in full, the repeats
#             hit the verified-signature cache; then the identity policy)
#   px-none   Tollgate GET /prod/proxy-open   (HTTP_PROXY to backend, NONE)
#   px-iam    Tollgate GET /prod/proxy-signed (HTTP_PROXY to backend, AWS_IAM, presigned)
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

require_tools nginx wrk curl timeout awk sed python3
python3 -c 'import botocore' 2>/dev/null || die "python3 botocore not found (scripts/deps.sh)"
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP must be integers" ;; esac
[ $(((DURATION * ROUNDS + WARMUP) * 2)) -lt 3000 ] || die "the run would outlast the presigned URL (1 h)"

release_build

start_run sigv4-perf

for p in 18081 18095 19095; do port_busy "$p" && die "port $p is already in use"; done
mkdir -p "$TMP/backend/tmp"
nginx -p "$TMP/backend/" -c "$PERF_DIR/nginx-backend.conf" -e "$TMP/backend/error.log" &
PIDS+=($!)
wait_up "nginx backend" "$!" http://127.0.0.1:18081/ "$TMP/backend/error.log"

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
      /proxy-open:
        GET:
          authorizationType: NONE
          integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://127.0.0.1:18081/"}
      /proxy-signed:
        GET:
          authorizationType: AWS_IAM
          integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://127.0.0.1:18081/"}
    stages: [{stageName: prod}]
YAML
"$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
TG_PID=$!
PIDS+=("$TG_PID")
wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"

presign() { # PATH: a presigned URL for GET http://$LISTEN/PATH, valid 1 h
    printf '[{"mode":"query","method":"GET","url":"http://%s/%s","key":"AKIDPERF","secret":"perf-secret","expires":3600}]' "$LISTEN" "$1" |
        python3 "$ROOT/tests/iam/sign.py" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["url"])'
}
SIGNED=$(presign prod/signed)
PROXY_SIGNED=$(presign prod/proxy-signed)

names=(tg-none tg-iam px-none px-iam)
urls=("http://$LISTEN/prod/open" "$SIGNED" "http://$LISTEN/prod/proxy-open" "$PROXY_SIGNED")
bodies=('{"ok":true}' '{"ok":true}' '{"message":"hello from backend"}' '{"message":"hello from backend"}')
labels=("Tollgate MOCK, authorizationType NONE" "Tollgate MOCK, AWS_IAM (presigned SigV4)"
    "Tollgate HTTP_PROXY, authorizationType NONE" "Tollgate HTTP_PROXY, AWS_IAM (presigned SigV4)")
check_targets
for path in signed proxy-signed; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$LISTEN/prod/$path")" = 403 ] || die "the AWS_IAM method /$path answered an unsigned request"
done

measure_targets
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load"

echo
echo "## SigV4 perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds alternated, medians;" \
    "Tollgate threads: 1."
echo
# One table per integration, each against its own NONE route.
all_names=("${names[@]}")
all_labels=("${labels[@]}")
names=("${all_names[@]:0:2}") labels=("${all_labels[@]:0:2}")
ratio_table tg-none "MOCK, NONE"
echo
names=("${all_names[@]:2:2}") labels=("${all_labels[@]:2:2}")
ratio_table px-none "HTTP_PROXY, NONE"
