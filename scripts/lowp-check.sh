#!/usr/bin/env bash
# Acceptance check of issue 19 (bf16/f16 profiles): an independent emulated
# low-precision engine (Notebooks/hxa079_lowp.py, RWKV-Infer's storage model of
# SPEC.md §4.7, arithmetic in float32 NumPy) against `hxa079 compare --profile`.
# See scripts/lowp_check.py for what is checked.
#
#   scripts/lowp-check.sh [--formats bf16,f16] [--measure] [--report FILE]
#                         [--workdir DIR] [--keep] [-v]
#
#   default    the acceptance: on a random model (head_dim 96, Hkv 1, GQA at 0 and 3,
#              BF16) and a fixture made with default options, the honest engine passes
#              `compare --profile bf16` (and f16) on every plan, and each planted mistake
#              fails at its first affected checkpoint (removal_from_decayed_state at
#              layers.1.rwkv.wkv). Needs a compare with --profile (exit 2 otherwise).
#   --measure  interim figures with today's compare: NMSE per checkpoint against the
#              f64 truth (honest, honest variants, every plant), the --tolerance-scale
#              each needs, and a float64 stage-local replay on the candidate's own inputs.
#   Always: the engine with --format f32 agrees with the float64 NumPy forward
#   within 1e-5 relative on every checkpoint (self-check).
#
# Environment:
#   HXA079_BIN   use this hxa079 executable instead of building one
#   HXA079_VENV  the venv to use (default <repo>/.venv; numpy + safetensors from PyPI)
#   PYTHON       interpreter used to create the venv (default: python3)
#
# Exit status: 0 every check passed, 1 a check failed (named on stderr), 2 the tools
# could not run.
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

echo "== lowp check ($BIN)"
status=0
"$VENV/bin/python" "$ROOT/scripts/lowp_check.py" --bin "$BIN" "$@" || status=$?
echo "== done in $(( $(date +%s) - START ))s (exit $status)"
exit $status
