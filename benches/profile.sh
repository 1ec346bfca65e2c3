#!/usr/bin/env bash
# A profile of the release server under the booking load: perf record with call graphs (DWARF
# unwinding: the release build has no frame pointers, but its unwind tables serve), then each
# thread's share of the samples and the heaviest functions of the busiest thread.
#   benches/profile.sh sqlite|postgres [SECONDS, default 6] [OUT, default /tmp/dosewise.perf]
# Needs perf (Debian's linux-perf; root, or kernel.perf_event_paranoid <= 1 for sqlite and
# <= 0 for postgres, which samples the whole machine) and, for postgres, PostgreSQL on
# 127.0.0.1:5432 (a scratch database dosewise_profile). Builds the release
# binaries first (CARGO_TARGET_DIR is honoured). PostgreSQL's own processes are sampled too.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:?sqlite or postgres}" secs="${2:-6}" out="${3:-/tmp/dosewise.perf}"
rel="${CARGO_TARGET_DIR:-target}/release"
command -v perf >/dev/null || { echo "benches/profile.sh needs perf (apt-get install linux-perf)" >&2; exit 2; }
cargo build --release --quiet --bin dosewise --bench load
load=$(ls -t $rel/deps/load-* | grep -v '\.d$' | head -n1)
source benches/scratch.sh
case "$backend" in
  sqlite) export DATABASE_URL="sqlite://$work/city.db"; scope=(-p) ;;
  postgres)
    psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS dosewise_profile WITH (FORCE)' -c 'CREATE DATABASE dosewise_profile' >/dev/null
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/dosewise_profile; scope=(-a) ;;
  *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
esac
$rel/dosewise demo-data --towns 50 --sites-per-town 4 --days 14 --seats-per-slot 60 >/dev/null
DOSEWISE_BIND=127.0.0.1:8207 $rel/dosewise serve >"$work/serve.log" 2>&1 &
srv=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:8207/healthz >/dev/null && break; sleep 0.1; done
[ "${scope[0]}" = "-p" ] && scope=(-p "$srv")
perf record -e cpu-clock -F 300 --call-graph dwarf,16384 "${scope[@]}" -o "$out" -- sleep "$secs" >"$work/perf.log" 2>&1 &
rec=$!
"$load" --url http://127.0.0.1:8207 --mode book --concurrency 64 --seconds "$secs"
wait "$rec" || { cat "$work/perf.log" >&2; exit 1; }
# Reports are cut short with sed, not head: under pipefail a closed pipe would end the script.
report() { perf report -i "$out" --stdio -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$' || true; }
if [ "$backend" = postgres ]; then
  echo "== samples by program, the whole machine"
  report --no-children --sort comm | sed -n 1,8p
fi
echo "== the server's samples by thread"
report --no-children --pid "$srv" --sort comm | sed -n 1,8p
busiest=$(report --no-children --pid "$srv" --sort comm | sed -n 1p | awk '{print $2}')
echo "== $busiest: functions with their callees (children), share of its samples"
report --children --pid "$srv" --comm "$busiest" --sort sym --percentage relative \
  | grep -E 'dosewise::|diesel::|sqlite3_step|commit|walk_ast|pthread_mutex' | sed -n 1,30p
[ "$backend" = postgres ] && psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS dosewise_profile WITH (FORCE)' >/dev/null
echo "profile kept in $out (perf report -i $out)"
