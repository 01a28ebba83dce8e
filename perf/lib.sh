# Shared by the perf/ scripts (sourced, not run): process cleanup, start-up waits, wrk runs,
# medians and side-by-side tables. The sourcing script sets TMP (a temp dir removed on exit),
# PIDS (processes to stop on exit), CONNECTIONS, and for measure_targets DURATION, ROUNDS,
# WARMUP and the parallel arrays names/urls/bodies/labels (one entry per target), optionally
# headers (one request header per target, "" for none).

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "$*" >&2; }

# Stops every process in PIDS (and their children), then removes TMP.
cleanup() {
    local p kids=()
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        # nginx workers and function workers are children: collect them before the TERM.
        kids+=($(pgrep -P "$p" 2>/dev/null || true))
        kill -TERM "$p" 2>/dev/null || true
    done
    for _ in $(seq 50); do
        local alive=0
        for p in ${PIDS[@]+"${PIDS[@]}"} ${kids[@]+"${kids[@]}"}; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in ${PIDS[@]+"${PIDS[@]}"} ${kids[@]+"${kids[@]}"}; do kill -KILL "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}

# require_tools TOOL...: dies naming the first tool not on PATH.
require_tools() {
    local t
    for t in "$@"; do command -v "$t" >/dev/null || die "$t not found"; done
}

# release_build [--example NAME]...: builds BIN and the perf examples with
# `cargo build --release` when BIN or a named example is missing or older than the sources.
release_build() {
    local missing=no arg prev=
    [ -x "$BIN" ] || missing=yes
    for arg in "$@"; do
        [ "$prev" = --example ] && { [ -x "$(dirname "$BIN")/examples/$arg" ] || missing=yes; }
        prev=$arg
    done
    if [ "$missing" = yes ] || [ -n "$(find "$ROOT/src" "$ROOT/perf/bare" "$ROOT/perf/function" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$BIN" -print -quit 2>/dev/null)" ]; then
        log "building $BIN $* ..."
        # Always the same targets: a different set would unify dependency features differently
        # and rebuild them.
        (cd "$ROOT" && timeout 3600 cargo build --release --bin tollgate --example bare_proxy --example perf_function) \
            || die "cargo build --release failed"
    fi
}

# start_run NAME: a temp dir in TMP, removed with every process in PIDS on exit.
start_run() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-$1.XXXXXX")
    PIDS=()
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

port_busy() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_up NAME PID URL LOGFILE: ≤ 10 s for URL to answer 200 while PID lives.
wait_up() {
    local name=$1 pid=$2 url=$3 logfile=$4 end=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$end" ]; do
        kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2 || true; die "$name exited during startup (log above)"; }
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" = 200 ] && return 0
        sleep 0.1
    done
    tail -n 30 "$logfile" >&2 || true
    die "$name did not answer 200 on $url within 10 s (log above)"
}

# run_wrk URL SECONDS OUTFILE [HEADER]; prints "rps p99_ms errors" (errors = non-2xx/3xx +
# socket errors).
run_wrk() {
    local hdr=()
    [ -z "${4:-}" ] || hdr=(-H "$4")
    timeout $(($2 + 30)) wrk -t1 -c"$CONNECTIONS" -d"$2s" --latency ${hdr[@]+"${hdr[@]}"} "$1" >"$3" 2>&1 || die "wrk failed on $1: $(cat "$3")"
    awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
                      p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ { for (i = 3; i <= NF; i += 2) { n = $(i + 1); sub(/,/, "", n); err += n } }
        END { if (rps == "") exit 1; printf "%.0f %.3f %d\n", rps, p99, err }' "$3" || die "cannot parse wrk output $3"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# machine_line: one line describing the machine and tools, for result tables.
machine_line() {
    echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }')," \
        "tollgate $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
}

# check_targets: every target must answer 200 (and, where bodies[i] is set, that body) before
# it is measured.
check_targets() {
    local i out code body
    for i in "${!names[@]}"; do
        local hdr=()
        [ -z "${headers[$i]:-}" ] || hdr=(-H "${headers[$i]}")
        out=$(curl -s --max-time 5 ${hdr[@]+"${hdr[@]}"} -w '\n%{http_code}' "${urls[$i]}" || true)
        code=${out##*$'\n'}
        body=${out%$'\n'*}
        [ "$code" = 200 ] || die "${urls[$i]} answered ${code:-nothing}, not 200: $body"
        [ -z "${bodies[$i]:-}" ] || [ "$body" = "${bodies[$i]}" ] || log "warning: ${urls[$i]} body is ${body:0:200}, expected ${bodies[$i]}"
    done
}

# measure_targets: a warm-up, then ROUNDS rounds over every target (the start rotated each
# round so that no target always runs first); fills RPS, P99 and ERRS (medians, error sums)
# by target name.
declare -A RPS P99 ERRS
measure_targets() {
    local n=${#names[@]} r k i res name
    log "warm-up ${WARMUP}s per target; then $ROUNDS rounds x $n targets x ${DURATION}s (wrk -t1 -c$CONNECTIONS)"
    if [ "$WARMUP" -gt 0 ]; then
        for i in "${!names[@]}"; do run_wrk "${urls[$i]}" "$WARMUP" "$TMP/warmup.txt" "${headers[$i]:-}" >/dev/null; done
    fi
    for ((r = 0; r < ROUNDS; r++)); do
        for ((k = 0; k < n; k++)); do
            i=$(((r + k) % n))
            res=$(run_wrk "${urls[$i]}" "$DURATION" "$TMP/wrk-${names[$i]}-$r.txt" "${headers[$i]:-}")
            echo "$res" >>"$TMP/res-${names[$i]}"
            log "  round $((r + 1)) ${names[$i]}: $res (req/s p99_ms errors)"
        done
    done
    for name in "${names[@]}"; do
        RPS[$name]=$(cut -d' ' -f1 "$TMP/res-$name" | median)
        P99[$name]=$(cut -d' ' -f2 "$TMP/res-$name" | median)
        ERRS[$name]=$(awk '{ s += $3 } END { print s + 0 }' "$TMP/res-$name")
    done
}

# ratio_table REF_NAME REF_LABEL: the markdown table of measure_targets' results, with
# throughput and p99 ratios to target REF_NAME.
ratio_table() {
    local ref=$1 i name
    echo "| target | requests/s | p99 | req/s vs $2 | p99 vs $2 | errors (all rounds) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for i in "${!names[@]}"; do
        name=${names[$i]}
        awk -v l="${labels[$i]}" -v r="${RPS[$name]}" -v p="${P99[$name]}" -v e="${ERRS[$name]}" \
            -v nr="${RPS[$ref]}" -v np="${P99[$ref]}" \
            'BEGIN { printf "| %s | %d | %.2f ms | %.2f | %.2f | %d |\n", l, r, p, r / nr, (np > 0 ? p / np : 0), e }'
    done
}
