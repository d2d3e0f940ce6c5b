#!/usr/bin/env bash
# clippy with warnings denied, run through `cargo build` rather than
# `cargo check`: check mode would compile the bundled DuckDB a second time
# (another ~35 minutes); build mode reuses the one the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/courier/target}"
driver="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
RUSTC_WORKSPACE_WRAPPER="$driver" \
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" \
  cargo build --all-targets --locked "$@"
