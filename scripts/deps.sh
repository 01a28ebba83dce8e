#!/usr/bin/env bash
# Installs what building and testing Tollgate needs on a fresh Debian/Ubuntu machine: cmake
# (Pingora's zlib-ng build), a C compiler; for the HTTPS-backend tests the openssl command
# and python3; for the mapping-template conformance test a JDK with Apache Velocity 1.7 and
# Jayway JsonPath (the reference implementations); from PyPI, moto's server and boto3 for the
# AWS service integration test, botocore's SigV4 signers for the IAM tests, awslambdaric
# (AWS's Python Lambda runtime client) for the Lambda tests and PyJWT with its crypto extra
# for the Cognito/JWT authorizer tests; redis-server for the shared usage plan state tests.
# Does nothing when they are present.
set -euo pipefail
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v cc >/dev/null || missing+=(build-essential)
command -v openssl >/dev/null || missing+=(openssl)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
command -v javac >/dev/null || missing+=(default-jdk-headless)
[ -f /usr/share/java/velocity.jar ] || missing+=(velocity)
[ -f /usr/share/java/json-path.jar ] || missing+=(libjsonpath-java)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c "import moto.server, boto3, botocore, awslambdaric, jwt, cryptography" 2>/dev/null; then
    pkgs=('moto[server]>=5,<6' boto3 botocore 'awslambdaric>=4,<5' 'pyjwt[crypto]>=2.8,<3')
    python3 -m pip install -q "${pkgs[@]}" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "${pkgs[@]}"
fi
