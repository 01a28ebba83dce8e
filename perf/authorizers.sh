#!/usr/bin/env bash
# What a COGNITO_USER_POOLS (JWT) authorizer costs: the same routes with and without it, one
# run, side by side:
#   backend     nginx `return 200` (1 worker)                                   127.0.0.1:18081
#   tg-none     Tollgate GET /prod/open: HTTP_PROXY to backend, authorizationType NONE  127.0.0.1:18095
#   tg-jwt      Tollgate GET /prod/jwt:  the same with COGNITO_USER_POOLS (RS256 ID token)
#   mock-none   Tollgate GET /prod/mock-open: MOCK, NONE
#   mock-jwt    Tollgate GET /prod/mock-jwt:  MOCK, COGNITO_USER_POOLS
# The token is minted by PyJWT (tests/jwt/mint.py, which also writes the JWKS file); every
# request carries it, so after the first one the verified-token cache answers.
# Load: wrk -t1 -c$CONNECTIONS -d$DURATION --latency per target, targets alternated over $ROUNDS
# rounds, medians; ratios to tg-none.
#
# Env: DURATION=5 ROUNDS=3 CONNECTIONS=64 WARMUP=1.
# Builds ${CARGO_TARGET_DIR:-target}/release/tollgate if missing or stale.
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
ISSUER=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_perf

require_tools nginx wrk curl timeout awk sed python3
python3 -c "import jwt, cryptography" 2>/dev/null || die "PyJWT with cryptography is missing (scripts/deps.sh installs it)"
case "$DURATION$ROUNDS$CONNECTIONS$WARMUP" in *[!0-9]*) die "DURATION, ROUNDS, CONNECTIONS, WARMUP must be integers" ;; esac

release_build

start_run authz-perf

for p in 18081 18095 19095; do port_busy "$p" && die "port $p is already in use"; done
mkdir -p "$TMP/backend/tmp"
nginx -p "$TMP/backend/" -c "$PERF_DIR/nginx-backend.conf" -e "$TMP/backend/error.log" &
PIDS+=($!)
wait_up "nginx backend" "$!" http://127.0.0.1:18081/ "$TMP/backend/error.log"

TOKEN=$(python3 "$ROOT/tests/jwt/mint.py" "$TMP" "$ISSUER" perf-client | python3 -c 'import json, sys; print(json.load(sys.stdin)["valid_id"])') \
    || die "minting the token failed"

MOCK='{type: MOCK, requestTemplates: {application/json: '"'"'{"statusCode": 200}'"'"'}, integrationResponses: [{statusCode: "200", responseTemplates: {application/json: '"'"'{"message":"hello from mock"}'"'"'}}]}'
cat >"$TMP/tollgate.yaml" <<YAML
server: {listen: ["127.0.0.1:18095"], admin: "$ADMIN", threads: 1, gracePeriodSeconds: 1, throttle: {rateLimit: 100000000, burstLimit: 100000000}}
restApis:
  - id: perf
    authorizers:
      - {name: users, type: COGNITO_USER_POOLS, issuer: "$ISSUER", jwks: "$TMP/jwks.json", audience: [perf-client]}
    resources:
      /open:
        GET: {integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://127.0.0.1:18081/"}}
      /jwt:
        GET:
          authorizationType: COGNITO_USER_POOLS
          authorizer: users
          integration: {type: HTTP_PROXY, httpMethod: GET, uri: "http://127.0.0.1:18081/"}
      /mock-open:
        GET: {methodResponses: [{statusCode: "200"}], integration: $MOCK}
      /mock-jwt:
        GET: {authorizationType: COGNITO_USER_POOLS, authorizer: users, methodResponses: [{statusCode: "200"}], integration: $MOCK}
    stages: [{stageName: prod}]
YAML
"$BIN" run -c "$TMP/tollgate.yaml" >"$TMP/tollgate.log" 2>&1 &
TG_PID=$!
PIDS+=("$TG_PID")
wait_up tollgate "$TG_PID" "http://$ADMIN/healthz" "$TMP/tollgate.log"

[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:18095/prod/jwt)" = 401 ] || die "/prod/jwt without a token is not refused"

AUTH="Authorization: $TOKEN"
names=(tg-none tg-jwt mock-none mock-jwt)
urls=(http://127.0.0.1:18095/prod/open http://127.0.0.1:18095/prod/jwt http://127.0.0.1:18095/prod/mock-open http://127.0.0.1:18095/prod/mock-jwt)
headers=("" "$AUTH" "" "$AUTH")
bodies=('{"message":"hello from backend"}' '{"message":"hello from backend"}' '{"message":"hello from mock"}' '{"message":"hello from mock"}')
labels=("HTTP_PROXY, NONE" "HTTP_PROXY, COGNITO_USER_POOLS" "MOCK, NONE" "MOCK, COGNITO_USER_POOLS")
check_targets
measure_targets
kill -0 "$TG_PID" 2>/dev/null || die "tollgate died during the load"

echo
echo "## Authorizer perf run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(machine_line) Loopback, wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency, $ROUNDS rounds alternated, medians;" \
    "Tollgate threads: 1; one RS256 ID token on every request."
echo
ratio_table tg-none "HTTP_PROXY, NONE"
