#!/usr/bin/env bash
# Opening day (issue 9, section 3) on a generated city: RESIDENTS distinct residents arrive
# within SECONDS for about 2,000 seats of the next day at 4 sites, from many 127.x.y.z source
# addresses with the per-address limits on; once first come, once with a draw. Each run is
# printed beside a ceiling measured in the same run: the same clients and arrivals against a
# bare actix-web handler.
#   benches/run-rush.sh [sqlite|postgres] [RESIDENTS, default 20000] [SECONDS, default 30]
# Loopback only; bounded (a release build, then about 3 x SECONDS plus the draw window).
# PostgreSQL: a server on 127.0.0.1:5432 (user postgres); the database dosewise_rush is
# dropped and created.
set -euo pipefail
cd "$(dirname "$0")/.."
# The release build's folder (CARGO_TARGET_DIR is honoured, so another checkout can share one).
rel="${CARGO_TARGET_DIR:-target}/release"
backend="${1:-sqlite}" residents="${2:-20000}" secs="${3:-30}"
seats=2000 sites=4 slots_per_day=12
per_slot=$(( (seats + sites * slots_per_day - 1) / (sites * slots_per_day) ))
cargo build --release --quiet --bin dosewise --bench rush --bench ceiling
bin() { ls -t $rel/deps/"$1"-* | grep -v '\.d$' | head -n1; }
rush=$(bin rush) ceiling=$(bin ceiling)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# One connection per address in flight: raise the descriptor limit where allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export DOSEWISE_SECRET=bench-secret-bench-secret-bench-secret-12 RUST_LOG=warn
export DOSEWISE_MAIL_DIR="$work/mail"
# The per-address limits stay at their defaults (unset DOSEWISE_RATE_*).
unset DOSEWISE_RATE_BOOK DOSEWISE_RATE_LOOKUP DOSEWISE_RATE_LOGIN

fresh_db() { # name -> DATABASE_URL
  if [ "$backend" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
    echo "postgres://postgres@127.0.0.1:5432/$1"
  else
    rm -f "$work/$1.db" "$work/$1.db-wal" "$work/$1.db-shm"
    echo "sqlite://$work/$1.db"
  fi
}
start_server() { # url port
  DATABASE_URL="$1" DOSEWISE_BIND="127.0.0.1:$2" $rel/dosewise serve >"$work/serve-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  echo "server on $2 did not start" >&2; exit 1
}
city() { # url [demo-data flags...]
  local url="$1"; shift
  DATABASE_URL="$url" $rel/dosewise demo-data --towns 1 --sites-per-town "$sites" --days 3 --seats-per-slot "$per_slot" "$@" >/dev/null
}
rss() { # pid -> "N MB" (resident set now)
  awk '/^VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "-"
}
peak() { # pid -> "N MB" (the most it was resident)
  awk '/^VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "-"
}
# The server's open connections, sampled every half second while a rush runs (ss, if present).
watcher=
watch_conns() { # port file
  command -v ss >/dev/null || return 0
  while :; do ss -Htn state established "( sport = :$1 )" | wc -l; sleep 0.5; done >"$2" &
  watcher=$!
  pids+=("$watcher")
}
most_conns() { # file -> the most sampled; stops the sampling
  [ -n "$watcher" ] && { kill "$watcher" 2>/dev/null || true; watcher=; }
  sort -n "$1" 2>/dev/null | tail -n1 | grep . || echo "-"
}
check() { # url
  if DATABASE_URL="$1" $rel/dosewise check >"$work/check.log" 2>&1; then echo "dosewise check: passed"; else echo "dosewise check: FAILED"; cat "$work/check.log"; fi
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); $backend; $residents residents in ${secs}s; ~$seats seats at $sites sites; $(date -u +%F)"

echo "== ceiling: a bare actix-web handler, the same clients and arrivals"
"$ceiling" http 127.0.0.1:8300 >/dev/null 2>&1 &
pids+=($!)
sleep 1
"$rush" --mode ceiling --url http://127.0.0.1:8300 --residents "$residents" --seconds "$secs"

echo "== first come"
db=$(fresh_db dosewise_rush)
city "$db"
start_server "$db" 8201
server=${pids[-1]}
before=$(rss "$server")
watch_conns 8201 "$work/conns-8201"
"$rush" --mode first --url http://127.0.0.1:8201 --database-url "$db" --residents "$residents" --seconds "$secs" --sites "$sites"
echo "server RSS before/after the rush: $before / $(rss "$server") (peak $(peak "$server"); goal: under 64 MB); open connections at most $(most_conns "$work/conns-8201") (sampled every 0.5 s)"
kill "$server"; wait "$server" 2>/dev/null || true
check "$db"

echo "== with a draw (window: the arrivals plus 10 s)"
db=$(fresh_db dosewise_rush)
city "$db" --draw-opens-in 8 --draw-seconds $((secs + 10))
start_server "$db" 8202
server=${pids[-1]}
before=$(rss "$server")
watch_conns 8202 "$work/conns-8202"
"$rush" --mode draw --url http://127.0.0.1:8202 --database-url "$db" --residents "$residents" --seconds "$secs" --sites "$sites"
echo "server RSS before/after the rush and the draw: $before / $(rss "$server") (peak $(peak "$server"); goal: under 64 MB); open connections at most $(most_conns "$work/conns-8202") (sampled every 0.5 s)"
kill "$server"; wait "$server" 2>/dev/null || true
check "$db"
