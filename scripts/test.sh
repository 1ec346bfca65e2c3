#!/usr/bin/env bash
# Runs every test: unit tests, then the black-box suite on SQLite and again on PostgreSQL.
# On a fresh machine it first installs what the tests need: Debian's chromium for the browser
# journey, playwright-core from npm (it never downloads a browser of its own), and it starts the
# local PostgreSQL if it is installed but stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Chromium, and a CJK font so the screenshots of Chinese pages are readable.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "== installing Debian's chromium and fonts-noto-cjk"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "== installing playwright-core"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "== starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "PostgreSQL is not reachable at 127.0.0.1:5432; the suite runs on both backends." >&2
  exit 1
fi

echo "== tests on SQLite"
cargo test --locked

echo "== tests on PostgreSQL ($PG_URL)"
TEST_DATABASE_URL="$PG_URL" cargo test --locked --test api

echo "== fault proof, short run (scripts/proof.sh; the full run's table is in RELIABILITY.md)"
python3 scripts/proof.py --short --bin target/debug/dosewise
