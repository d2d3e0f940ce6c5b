#!/usr/bin/env bash
# Prepares a prebuilt DuckDB C library of exactly the pinned version for dev
# runs (scripts/run.sh), so a first run does not compile DuckDB's C++ (~22 of
# its ~26 minutes on 2 cores). The only registry here that ships the pinned
# DuckDB prebuilt is PyPI: the `duckdb` wheel's extension module exports the
# whole C API (and links CPython's symbols, so libpython is linked beside it).
#
# On success prints the directory to use as DUCKDB_LIB_DIR and exits 0; on any
# doubt (no wheel, other version or source id, a C-API symbol missing) says
# why on stderr and exits 1, and the caller falls back to the bundled build.
# Tests, benchmarks, CI and release builds always use the bundled DuckDB.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${COURIER_CACHE_DIR:-$HOME/.cache/courier}"
say() { echo "prebuilt DuckDB: $*" >&2; }

# The pinned version and source id, from the libduckdb-sys sources in Cargo.lock.
sys_dir="$(cargo metadata --locked --format-version 1 2>/dev/null |
  python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="libduckdb-sys"))')" ||
  { say "cargo metadata did not name libduckdb-sys"; exit 1; }
pragma="$(tar xzf "$sys_dir/duckdb.tar.gz" -O duckdb/src/function/table/version/pragma_version.cpp)"
version="$(sed -n 's/^#define DUCKDB_VERSION "v\(.*\)"/\1/p' <<<"$pragma")"
source_id="$(sed -n 's/^#define DUCKDB_SOURCE_ID "\(.*\)"/\1/p' <<<"$pragma")"
[ -n "$version" ] && [ -n "$source_id" ] || { say "pinned version not found in $sys_dir"; exit 1; }

dir="$cache/duckdb-prebuilt/v$version-$source_id"
if [ -f "$dir/verified" ]; then echo "$dir"; exit 0; fi
rm -rf "$dir" && mkdir -p "$dir/wheel"
python3 -m pip download --quiet --no-deps --only-binary :all: "duckdb==$version" -d "$dir/wheel" >&2 ||
  { say "no duckdb==$version wheel for this Python"; exit 1; }
(cd "$dir/wheel" && python3 -m zipfile -e ./*.whl .) || { say "wheel did not unpack"; exit 1; }
module="$(ls "$dir"/wheel/_duckdb.*.so 2>/dev/null | head -1)"
[ -n "$module" ] || { say "the wheel holds no _duckdb module"; exit 1; }

# Version and source id, asked of the library itself.
got="$(PYTHONPATH="$dir/wheel" python3 -c 'import duckdb; print(*duckdb.execute("select library_version, source_id from pragma_version()").fetchone())')" ||
  { say "the wheel's DuckDB did not start"; exit 1; }
[ "$got" = "v$version $source_id" ] || { say "wheel is $got, pinned v$version $source_id"; exit 1; }

# Every C-API function the Rust bindings declare is exported.
grep -oE 'pub fn duckdb_[A-Za-z0-9_]+' "$sys_dir/src/bindgen_bundled_version.rs" | awk '{print $3}' | sort -u >"$dir/wanted"
nm -D --defined-only "$module" | awk '{print $3}' | sort -u >"$dir/exported"
missing="$(comm -23 "$dir/wanted" "$dir/exported" | head -5)"
[ -z "$missing" ] || { say "C-API functions missing from the wheel: $missing"; exit 1; }

pylib="$(python3 -c 'import sysconfig,os; print(os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")))')"
[ -f "$pylib" ] || { say "no shared libpython ($pylib)"; exit 1; }
ln -sf "$module" "$dir/libduckdb.so"
ln -sf "$pylib" "$dir/$(basename "$pylib")"
echo "v$version $source_id, $(wc -l <"$dir/wanted") C-API functions" >"$dir/verified"
say "v$version ($source_id) from the PyPI wheel, verified"
echo "$dir"
