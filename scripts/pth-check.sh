#!/usr/bin/env bash
# pth-check.sh — the .pth converter round trip (issue 17, deliverable 5): random hxa079 models
# exported to .pth by PyTorch in both naming schemes, converted back by scripts/convert-pth.py,
# and compared bit for bit with the original; plus the converter's bad-input exit statuses.
#
# Usage: scripts/pth-check.sh [--measure [PRESET [LAYERS]]]
#   env HXA079_BIN=PATH      the hxa079 executable (default: built by scripts/lib.sh hxa079_binary)
#   env HXA079_VENV=DIR      the Python venv (default <repo>/.venv, created if missing)
#   env HXA079_TORCH=SPEC    what `pip install` gets for PyTorch (default: a CPU wheel for this Python
#                            in $HXA079_WHEELS, /opt/wheels by default, when one is there — 192 MB, ≈3 min;
#                            else "torch", PyPI's wheel with its CUDA dependencies, ≈3 GB, ≈8 min;
#                            see README "RWKV-style .pth checkpoints")
#   --measure [PRESET [LAYERS]]  also convert a bf16 init-model (default preset medium, ≈413 MB;
#                            `reka 2` is 4.3 GB) and print the converter's memory line, /usr/bin/time's
#                            maximum RSS and the wall time (a measurement, not a test; not in CI)
#
# Contract:
# 1. Installs torch (unless it imports already), safetensors and numpy into the venv.
# 2. scripts/pth_roundtrip.py check: random tiny models (init-model, HF-style and RWKV-style names)
#    exported with torch.save in both schemes (and the training names), converted back, compared
#    bit for bit with the original, `hxa079 inspect` and `hxa079 forward` logits; the bad-input
#    exit statuses (its docstring lists the cases).
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
source scripts/lib.sh
MEASURE=0
if [[ "${1:-}" == "--measure" ]]; then MEASURE=1; shift; fi

hxa079_binary
hxa079_torch
"$PY" -c 'import torch, safetensors; print("torch", torch.__version__, "safetensors", safetensors.__version__)'

T="$(mktemp -d "${TMPDIR:-/tmp}/hxa079-pth.XXXXXX")"
trap 'rm -rf "$T"' EXIT
start=$(date +%s)
"$PY" scripts/pth_roundtrip.py check "$BIN" "$T"
echo "   round trip in $(( $(date +%s) - start ))s"
if [[ $MEASURE -eq 1 ]]; then
    echo "== measure: ${1:-medium} ${2:-} bf16, RWKV-style .pth"
    "$PY" scripts/pth_roundtrip.py measure "$BIN" "$T" "$@"
fi
echo "pth-check: PASS"
