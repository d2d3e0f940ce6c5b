#!/usr/bin/env bash
# Builds and runs courier on the embedded default (no AWS account needed).
# Arguments go to courier, e.g. scripts/run.sh --no-tui --for 30s
#
# A first build compiles DuckDB's C++ (~22 minutes on 2 cores) unless a
# prebuilt DuckDB of exactly the pinned version is found and verified
# (scripts/prebuilt-duckdb.sh); COURIER_BUNDLED_DUCKDB=1 always compiles it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/courier/target}"
features=()
if [ "${COURIER_BUNDLED_DUCKDB:-0}" != 1 ] && lib="$(bash scripts/prebuilt-duckdb.sh)"; then
  export DUCKDB_LIB_DIR="$lib"
  features=(--no-default-features)
else
  echo "using the bundled DuckDB (compiled from source on a first build)" >&2
fi
# Not --quiet: the first build takes a while and cargo shows its progress.
exec cargo run --locked "${features[@]}" -- "$@"
