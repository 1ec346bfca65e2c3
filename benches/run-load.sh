#!/usr/bin/env bash
# One load-test run on a fresh generated city: build (release), generate, serve, drive, stop.
#   benches/run-load.sh sqlite|postgres book|site|availability [CONCURRENCY] [SECONDS]
# Traffic goes only to 127.0.0.1. PostgreSQL runs use a scratch database dosewise_bench.
set -euo pipefail
cd "$(dirname "$0")/.."
# The release build's folder (CARGO_TARGET_DIR is honoured, so another checkout can share one).
rel="${CARGO_TARGET_DIR:-target}/release"
backend="${1:-sqlite}" mode="${2:-book}" conc="${3:-64}" secs="${4:-10}"
cargo build --release --quiet --bin dosewise --bench load
load=$(ls -t $rel/deps/load-* | grep -v '\.d$' | head -n1)
work=$(mktemp -d)
# Throughput from one address: the per-address limits are off here (benches/rush keeps them).
export DOSEWISE_SECRET=bench-secret-bench-secret-bench-secret-12 DOSEWISE_RATE_BOOK=0 DOSEWISE_RATE_LOOKUP=0
export DOSEWISE_BIND=127.0.0.1:8200
case "$backend" in
  sqlite) export DATABASE_URL="sqlite://$work/city.db" ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS dosewise_bench WITH (FORCE)' -c 'CREATE DATABASE dosewise_bench'
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/dosewise_bench DOSEWISE_POOL_SIZE=${DOSEWISE_POOL_SIZE:-16} ;;
  *) echo "backend is sqlite or postgres" >&2; exit 2 ;;
esac
$rel/dosewise demo-data --towns 50 --sites-per-town 4 --days 14 --seats-per-slot 60 >/dev/null
$rel/dosewise serve >"$work/serve.out" 2>"$work/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8200/healthz >/dev/null && break; sleep 0.2; done
"$load" --url http://127.0.0.1:8200 --mode "$mode" --concurrency "$conc" --seconds "$secs"
