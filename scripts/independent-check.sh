#!/usr/bin/env bash
# Independent check of the Swift reference against a float64 NumPy
# implementation written from SPEC.md (Notebooks/hxa079_numpy.py), on seeded
# random models (Notebooks/make_random_model.py). See Notebooks/independent_check.py.
#
#   scripts/independent-check.sh [--keep] [--workdir DIR] [--only c01,c02] [-v]
#
# Environment:
#   HXA079_BIN   use this hxa079 executable instead of building one
#                (default: `swift build --product hxa079`, default scratch path)
#   PYTHON       interpreter used to create the venv (default: python3)
#
# Creates/uses the venv at <repo>/.venv (numpy + safetensors from PyPI).
# Exits non-zero if any checkpoint or state tensor differs by more than 1e-10
# relative (max|Δ| / max|reference|), or if a known-wrong variant of the NumPy
# side goes undetected (--mutants, always on here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${HXA079_BIN:-}" && "$HXA079_BIN" != /* ]]; then
    HXA079_BIN="$PWD/$HXA079_BIN"       # relative to the caller's directory
fi
cd "$ROOT"
START=$(date +%s)

source "$ROOT/scripts/lib.sh"
hxa079_numpy

hxa079_binary

echo "== independent check ($BIN)"
status=0
"$VENV/bin/python" "$ROOT/Notebooks/independent_check.py" --bin "$BIN" --mutants "$@" || status=$?
echo "== done in $(( $(date +%s) - START ))s (exit $status)"
exit $status
