#!/usr/bin/env bash
# Installs build dependencies if missing, then runs every test: unit tests beside the code and
# the end-to-end tests in tests/, which start the real binary against real HTTP backends.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo test
