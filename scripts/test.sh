#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need, then
# formatting, lints and the whole test suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# Outside the clone, so the bundled DuckDB compiles once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/courier/target}"

need_apt=()
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi
fi

# kinesis-local (npm, patched to bind 127.0.0.1) and moto server + boto3
# (PyPI) for tests/it/aws.rs; cached outside the clone, a no-op once installed.
bash scripts/emulators.sh install

# Cargo never removes the test executables of earlier builds (~1 GB each
# with debug info); on a long-lived machine they filled the disk. Those not
# relinked for two days go (a current one is only relinked if needed).
if [ -d "$CARGO_TARGET_DIR/debug/deps" ]; then
  find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -perm -u+x -mtime +1 \
    -regextype posix-extended -regex '.*/[A-Za-z0-9_]+-[0-9a-f]{16}' -delete
fi

cargo fmt --all -- --check
bash scripts/clippy.sh
python3 scripts/import_cycles.py src
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --all-targets --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (benchmarks print figures after the
# last test binary, so cargo's own last line is not a test count).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
