#!/usr/bin/env bash
# Installs what building and testing Tollgate needs on a fresh Debian/Ubuntu machine: cmake
# (Pingora's zlib-ng build), a C compiler, and for the HTTPS-backend tests the openssl command
# and python3. Does nothing when they are present.
set -euo pipefail
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v cc >/dev/null || missing+=(build-essential)
command -v openssl >/dev/null || missing+=(openssl)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
