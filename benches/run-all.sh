#!/usr/bin/env bash
# Every figure of BENCHMARKS.md, each printed beside its ceiling measured in the same run:
# HTTP figures against a bare actix-web handler, booking figures against the same booking
# transaction in a tight loop without HTTP (with the server's settings, pool and number of
# blocking threads, so as many transactions at once). The ratio is the figure that counts.
#   [ROUNDS=3] benches/run-all.sh [SECONDS per figure, default 8] [CONCURRENCY, default 64]
# The booking figures are measured ROUNDS times each, on a fresh city each time, and their median
# is the row to quote. Loopback only; bounded (about 7 + 4 x ROUNDS figures x SECONDS, plus a
# generated city per round and one release build). Needs wrk
# (Debian's package) and PostgreSQL on 127.0.0.1:5432 for the PostgreSQL rows.
set -euo pipefail
cd "$(dirname "$0")/.."
# The release build's folder (CARGO_TARGET_DIR is honoured, so another checkout can share one).
rel="${CARGO_TARGET_DIR:-target}/release"
secs="${1:-8}" conc="${2:-64}" rounds="${ROUNDS:-3}"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a whole number from 1" >&2; exit 2; }
command -v wrk >/dev/null || { echo "benches/run-all.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --release --quiet --bin dosewise --bench load --bench ceiling
bin() { ls -t $rel/deps/"$1"-* | grep -v '\.d$' | head -n1; }
load=$(bin load) ceiling=$(bin ceiling)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# Throughput from one address: the per-address limits are off here (benches/rush keeps them).
export DOSEWISE_SECRET=bench-secret-bench-secret-bench-secret-12 DOSEWISE_RATE_BOOK=0 DOSEWISE_RATE_LOOKUP=0 RUST_LOG=warn
export DOSEWISE_MAIL_DIR="$work/mail"

# rate FROM wrk's output (requests/s) and p99
wrk_run() { wrk -t2 -c"$conc" -d"${secs}s" --latency "$1" 2>&1; }
wrk_rate() { awk '/Requests\/sec/ {printf "%.0f", $2}'; }
wrk_p99() { awk '$1=="99%" {print $2}'; }
row() { printf '| %-44s | %10s | %9s | %-24s | %6s |\n' "$1" "$2" "$3" "$4" "$5"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else print "-" }'; }

rss() { # pid -> "N MB" (resident set now)
  awk '/^VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "-"
}
peak() { # pid -> "N MB" (the most it was resident)
  awk '/^VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "-"
}
start_server() { # url port
  DATABASE_URL="$1" DOSEWISE_BIND="127.0.0.1:$2" $rel/dosewise serve >"$work/serve-$2.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  echo "server on $2 did not start" >&2; exit 1
}
fresh_city() { # url
  $rel/dosewise demo-data --towns 50 --sites-per-town 4 --days 14 --seats-per-slot 60 >/dev/null
}
pg_fresh() {
  psql -q -h 127.0.0.1 -U postgres -c 'DROP DATABASE IF EXISTS dosewise_bench WITH (FORCE)' -c 'CREATE DATABASE dosewise_bench' >/dev/null
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); ${secs}s per figure, $conc clients; $(date -u +%F)"
row "figure" "per second" "p99" "ceiling (same run)" "ratio"
row "--------------------------------------------" "----------" "---------" "------------------------" "------"

# The HTTP ceiling: a bare actix-web handler.
"$ceiling" http 127.0.0.1:8300 >/dev/null 2>&1 &
pids+=($!)
sleep 1
out=$(wrk_run http://127.0.0.1:8300/)
bare=$(wrk_rate <<<"$out")
row "bare actix-web handler (ceiling)" "$bare" "$(wrk_p99 <<<"$out")" "-" "100 %"

# SQLite server on a generated city.
export DATABASE_URL="sqlite://$work/city.db"
fresh_city
start_server "$DATABASE_URL" 8201
read -r town site < <(curl -sf http://127.0.0.1:8201/api/v1/towns | python3 -c 'import json,sys; t=json.load(sys.stdin)[0]; print(t["id"], t["sites"][0]["id"])')
day=$(date -u -d tomorrow +%F)
# The resident's way in on opening day: home, town, site day page, availability.
for path in /healthz /static/app.css / "/towns/$town" "/api/v1/availability?site=$site&date=$day" "/sites/$site"; do
  out=$(wrk_run "http://127.0.0.1:8201$path")
  r=$(wrk_rate <<<"$out")
  label="GET ${path%%\?*}"
  [ "$path" = "/" ] && label="GET / (home page)"
  [ "$path" = "/towns/$town" ] && label="GET /towns/{id} (town page)"
  [ "$path" = "/sites/$site" ] && label="GET /sites/{id} (day page)"
  row "$label, SQLite" "$r" "$(wrk_p99 <<<"$out")" "bare $bare" "$(ratio "$r" "$bare")"
done
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'

# The booking figure, ROUNDS times, each on a fresh city: the server under the booking load, then
# the same transaction without HTTP on the same database. One round's figure moved by a third
# between runs on this machine, so every round is printed and the row to quote is their median
# (each column's median; its ratio is the median of the rounds' ratios).
median() { tr ' ' '\n' | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
booking_rounds() { # label port
  local label="$1" port="$2" all_booked="" all_p99="" all_tx="" all_ratio=""
  for round in $(seq 1 "$rounds"); do
    case "$DATABASE_URL" in sqlite://*) rm -f "$work"/city.db* ;; *) pg_fresh ;; esac
    fresh_city
    start_server "$DATABASE_URL" "$port"
    local rss out booked p99 rss_after tx txr r
    rss=$(rss "${pids[-1]}")
    out=$("$load" --url "http://127.0.0.1:$port" --mode book --concurrency "$conc" --seconds "$secs")
    booked=$(awk '/^successful/ {sub("/s", "", $4); print $4}' <<<"$out")
    p99=$(awk '/^latency/ {gsub(",", ""); print $8}' <<<"$out")
    rss_after="$(rss "${pids[-1]}") (peak $(peak "${pids[-1]}"))"
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'
    tx=$("$ceiling" tx "$DATABASE_URL" server "$secs")
    txr=$(awk '{for (i=1;i<=NF;i++) if ($i=="confirmed/s,") print $(i-1)}' <<<"$tx")
    [ -n "$booked" ] && [ -n "$p99" ] && [ -n "$txr" ] || { echo "$label round $round: a figure is missing" >&2; exit 1; }
    r=$(ratio "$booked" "$txr")
    row "confirmed bookings, $label, round $round" "$booked" "${p99} ms" "tx without HTTP $txr" "$r"
    echo "  (server RSS before/after the booking load: $rss / $rss_after; $tx)"
    all_booked+=" $booked" all_p99+=" $p99" all_tx+=" $txr" all_ratio+=" ${r% %}"
  done
  row "confirmed bookings, $label, median of $rounds" "$(median <<<"${all_booked# }")" "$(median <<<"${all_p99# }") ms" \
    "tx without HTTP $(median <<<"${all_tx# }")" "$(median <<<"${all_ratio# }") %"
}
booking_rounds SQLite 8201

# PostgreSQL, with the server's default settings (a pool of 8): a pool of 16 and its 36 blocking
# threads were no faster on 2 cores, and their p99 was higher (BENCHMARKS.md).
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/dosewise_bench
  booking_rounds PostgreSQL 8202
fi
