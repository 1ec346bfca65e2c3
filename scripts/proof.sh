#!/usr/bin/env bash
# The fault proof (RELIABILITY.md): builds the server, then runs scripts/proof.py, which prints
# one table. Loopback only; the full run takes about ten minutes, `--short` under two.
#   scripts/proof.sh [--short] [--only sqlite,postgres,storm,outage,disk,mail]
# Needs PostgreSQL on 127.0.0.1:5432 (TEST_PG_URL to change it) and root for the disk-full step.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --quiet --bin dosewise
exec python3 scripts/proof.py --bin target/debug/dosewise "$@"
