# Sourced by the bench scripts that start one server at a time: a scratch folder `$work` for the
# database, the mail and the log, removed on exit with the server `$srv` if one runs; and the
# server settings of every bench run (a fixed secret; the per-address limits off, since one
# address sends everything; warnings only in the log; mail as `.eml` files in the scratch folder).
work=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export DOSEWISE_SECRET=bench-secret-bench-secret-bench-secret-12 DOSEWISE_RATE_BOOK=0 DOSEWISE_RATE_LOOKUP=0 RUST_LOG=warn
export DOSEWISE_MAIL_DIR="$work/mail"
