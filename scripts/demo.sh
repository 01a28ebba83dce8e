#!/usr/bin/env bash
# Builds Tollgate and serves the demo PetStore API (conf/tollgate.yaml) on 127.0.0.1:8080,
# admin on 127.0.0.1:9080. Needs no other server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --bin tollgate
exec target/release/tollgate run -c conf/tollgate.yaml
