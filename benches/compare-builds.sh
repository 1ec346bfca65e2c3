#!/usr/bin/env bash
# Before/after of a change: two (or more) builds measured in turn, in one run, each beside its
# own ceiling. For each build folder (holding `dosewise` and `ceiling`, copied from a release
# build: target/release/dosewise and target/release/deps/ceiling-*), ROUNDS times in turn: a
# fresh generated city, the booking transaction without HTTP (`ceiling tx`, the build's own
# ceiling), then that build's server under the booking load, with the ratio.
#   benches/compare-builds.sh sqlite|postgres LOAD DIR... [ROUNDS=2 SECONDS=8 CONCURRENCY=64]
# LOAD is the load harness binary (target/release/deps/load-*), the same client for every build.
# Loopback only; PostgreSQL runs use a scratch database dosewise_bench.
set -euo pipefail
backend="$1" load="$2"
shift 2
rounds="${ROUNDS:-2}" secs="${SECONDS_EACH:-8}" conc="${CONCURRENCY:-64}"
source "$(dirname "$0")/scratch.sh"
fresh_city() { # build folder -> DATABASE_URL exported
  case "$backend" in
    sqlite) rm -f "$work"/city.db*; export DATABASE_URL="sqlite://$work/city.db" ;;
    postgres)
      psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS dosewise_bench WITH (FORCE)' -c 'CREATE DATABASE dosewise_bench' >/dev/null
      export DATABASE_URL=postgres://postgres@127.0.0.1:5432/dosewise_bench ;;
    *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
  esac
  "$1/dosewise" demo-data --towns 50 --sites-per-town 4 --days 14 --seats-per-slot 60 >/dev/null
}
echo "machine: $(nproc) cores, $(uname -r); $backend; ${secs}s per figure, $conc clients; $(date -u '+%F %H:%M')"
printf '| %-5s | %-24s | %12s | %9s | %12s | %9s | %6s |\n' round build "tx without HTTP" p99 "bookings/s" p99 ratio
for round in $(seq 1 "$rounds"); do
  for dir in "$@"; do
    fresh_city "$dir"
    tx=$("$dir/ceiling" tx "$DATABASE_URL" server "$secs")
    txr=$(awk '{for (i=1;i<=NF;i++) if ($i=="confirmed/s,") print $(i-1)}' <<<"$tx")
    txp=$(awk '{for (i=1;i<=NF;i++) if ($i=="p99") print $(i+1), $(i+2)}' <<<"$tx" | tr -d ',')
    fresh_city "$dir"
    DOSEWISE_BIND=127.0.0.1:8203 "$dir/dosewise" serve >"$work/serve.log" 2>&1 &
    srv=$!
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:8203/healthz >/dev/null && break; sleep 0.1; done
    out=$("$load" --url http://127.0.0.1:8203 --mode book --concurrency "$conc" --seconds "$secs")
    kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
    booked=$(awk '/^successful/ {sub("/s", "", $4); print $4}' <<<"$out")
    p99=$(awk '/^latency/ {gsub(",", ""); print $8}' <<<"$out")
    ratio=$(awk -v a="$booked" -v b="$txr" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else print "-" }')
    printf '| %-5s | %-24s | %12s | %9s | %12s | %9s | %6s |\n' "$round" "$(basename "$dir")" "$txr" "$txp" "$booked" "$p99 ms" "$ratio"
  done
done
