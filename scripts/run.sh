#!/usr/bin/env bash
# Builds and runs courier on the embedded default (no AWS account needed).
# Arguments go to courier, e.g. scripts/run.sh --no-tui --for 30s
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/courier/target}"
# Not --quiet: the first build takes a while and cargo shows its progress.
exec cargo run --locked -- "$@"
