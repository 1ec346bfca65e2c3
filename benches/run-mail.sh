#!/usr/bin/env bash
# Mail delivery throughput: queue confirmations by booking through the load harness for a few
# seconds, then time one `dosewise send-mail --once` pass into a local discarding SMTP server.
#   benches/run-mail.sh [BOOKING_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
# The release build's folder (CARGO_TARGET_DIR is honoured, so another checkout can share one).
rel="${CARGO_TARGET_DIR:-target}/release"
secs="${1:-3}"
cargo build --release --quiet --bin dosewise --bench load
load=$(ls -t $rel/deps/load-* | grep -v '\.d$' | head -n1)
work=$(mktemp -d)
export DOSEWISE_SECRET=bench-secret-bench-secret-bench-secret-12 DOSEWISE_BIND=127.0.0.1:8201
export DATABASE_URL="sqlite://$work/city.db" DOSEWISE_MAIL_WORKER=false
$rel/dosewise demo-data --towns 20 --sites-per-town 4 --days 7 --seats-per-slot 60 >/dev/null
$rel/dosewise serve >"$work/serve.out" 2>"$work/serve.log" &
server=$!
python3 benches/smtp_sink.py 2526 >"$work/sink.out" 2>&1 &
sink=$!
trap 'kill $server $sink 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:8201/healthz >/dev/null && break; sleep 0.2; done
"$load" --url http://127.0.0.1:8201 --mode book --concurrency 32 --seconds "$secs" | grep successful
kill $server; wait $server 2>/dev/null || true
start=$(date +%s.%N)
SMTP_URL=smtp://127.0.0.1:2526 $rel/dosewise send-mail --once
end=$(date +%s.%N)
kill -TERM $sink; wait $sink 2>/dev/null || true
cat "$work/sink.out"
python3 -c "print(f'send-mail pass: {float($end) - float($start):.2f} s')"
