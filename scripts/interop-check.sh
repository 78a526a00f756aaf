#!/usr/bin/env bash
# interop-check.sh — prove the Swift safetensors reader/writer interoperates
# with Python's reference `safetensors` package, in both directions.
#
# Usage: scripts/interop-check.sh
#   env SCRATCH=.build-st        swift scratch path (default .build-st)
#   env PACKAGE_PATH=.           swift package to test (default: this repo)
#
# Contract:
# 1. Creates (or reuses) the venv .venv (git-ignored, shared with the other Python checks) and
#    pip-installs safetensors, numpy and ml_dtypes from PyPI.
# 2. Phase 1: `swift test --filter SafeTensorsTests.InteropTests` with
#    HXA079_INTEROP_DIR set writes swift_*.safetensors into a temp dir.
# 3. scripts/safetensors_interop.py loads them with safetensors.numpy, checks
#    every value bit for bit and byte-identity with Python's writer, then
#    writes py_*.safetensors.
# 4. Phase 2: the Swift test reads Python's files, checks every value and that
#    Swift's writer reproduces Python's bytes, and drops swift_phase2.ok.
# Exits non-zero on any mismatch or if a phase did not actually run.
set -euo pipefail

cd "$(dirname "$0")/.."
scratch="${SCRATCH:-.build-st}"
package="${PACKAGE_PATH:-.}"
venv=.venv
# SWIFT_TEST_FLAGS (e.g. "-c release -Xswiftc -enable-testing --skip-build") replaces the
# default scratch path, so CI reuses the build scripts/test.sh already made.
if [[ -n "${SWIFT_TEST_FLAGS:-}" ]]; then
    read -r -a swift_flags <<< "$SWIFT_TEST_FLAGS"
else
    swift_flags=(--scratch-path "$scratch")
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "== creating $venv"
    python3 -m venv "$venv"
fi
echo "== pip install safetensors numpy ml_dtypes"
"$venv/bin/pip" install --quiet --disable-pip-version-check safetensors numpy ml_dtypes
"$venv/bin/python" -c 'import safetensors, numpy, ml_dtypes; print("safetensors", safetensors.__version__, "numpy", numpy.__version__, "ml_dtypes", ml_dtypes.__version__)'

dir="$(mktemp -d "${TMPDIR:-/tmp}/hxa079-interop.XXXXXX")"
trap 'rm -rf "$dir"' EXIT

run_swift_phase() {
    local phase=$1 log="$dir/swift-phase$1.log"
    echo "== Swift phase $phase"
    if ! HXA079_INTEROP_DIR="$dir" HXA079_INTEROP_PHASE="$phase" \
        swift test --package-path "$package" "${swift_flags[@]}" \
        --filter 'SafeTensorsTests\.InteropTests' >"$log" 2>&1; then
        grep -E '✘|error:' "$log" | head -n 40 >&2 || tail -n 40 "$log" >&2
        echo "Swift phase $phase FAILED (log: $log)" >&2
        trap - EXIT
        exit 1
    fi
    grep -E '^✔ Test run|^✘ Test run' "$log" || true
}

run_swift_phase 1
ls "$dir"/swift_*.safetensors >/dev/null 2>&1 || { echo "phase 1 wrote no files (test skipped?)" >&2; exit 1; }

echo "== Python: check Swift files, write Python files"
"$venv/bin/python" scripts/safetensors_interop.py "$dir"

run_swift_phase 2
[[ -f "$dir/swift_phase2.ok" ]] || { echo "phase 2 did not run (test skipped?)" >&2; exit 1; }

echo "interop: PASS (Swift → Python and Python → Swift, values bit-exact, writers byte-identical)"
