#!/usr/bin/env bash
# bench.sh — `hxa079 bench` and the PyTorch eager baseline (scripts/bench-pytorch.py) back to back on
# this machine, then the ratios ours / PyTorch from that one run (issue 20, deliverable 4).
#
# Usage: scripts/bench.sh [--quick] [--out DIR]
#   --quick                  passes --quick to both (no reka-layer, fewer tokens and repetitions; a
#                            smoke run of 1–3 min; its ratios are not the benchmark)
#   --out DIR                keep hxa079.json, pytorch.json and ratios.md in DIR (default: a temporary
#                            directory, removed at the end)
#   env HXA079_BIN=PATH      the hxa079 executable (default: `swift build -c release --product hxa079`,
#                            a benchmark of a debug build means nothing)
#   env HXA079_VENV=DIR      the Python venv (default <repo>/.venv, created if missing)
#   env HXA079_TORCH=SPEC    what `pip install` gets for PyTorch (default as scripts/pth-check.sh: the CPU
#                            wheel for this Python in $HXA079_WHEELS, /opt/wheels by default, else PyPI's "torch")
#
# Contract:
# 1. Installs torch (unless it imports already), safetensors and numpy into the venv.
# 2. Prints the date, the machine and /proc/loadavg, runs `hxa079 bench --json` (its table), then
#    `bench-pytorch.py bench --check` (first the check against `hxa079 forward --precision f32` —
#    exit 1 if the PyTorch forward does not compute the model — then the same presets, token counts and
#    statistic in float32 and bfloat16), then prints the table of ratios from the two JSON files and
#    /proc/loadavg again. Nothing else should run meanwhile: figures on a shared 2-vCPU machine drop
#    1.3–3× under load (BENCHMARKS.md).
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
source scripts/lib.sh

QUICK=()
OUTDIR=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=(--quick); shift ;;
        --out) [[ $# -ge 2 ]] || { echo "bench.sh: --out needs a directory" >&2; exit 2; }; OUTDIR="$2"; shift 2 ;;
        *) echo "usage: $0 [--quick] [--out DIR]" >&2; exit 2 ;;
    esac
done

if [[ -n "${HXA079_BIN:-}" ]]; then
    BIN="$HXA079_BIN"
else
    echo "== swift build -c release --product hxa079"
    swift build -c release --product hxa079
    BIN="$(swift build -c release --show-bin-path)/hxa079"
fi
[[ -x "$BIN" ]] || { echo "hxa079 executable not found: $BIN" >&2; exit 2; }

hxa079_torch

if [[ -n "$OUTDIR" ]]; then
    mkdir -p "$OUTDIR"
    D="$OUTDIR"
else
    D="$(mktemp -d "${TMPDIR:-/tmp}/hxa079-bench.XXXXXX")"
    trap 'rm -rf "$D"' EXIT
fi

echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) cores; /proc/loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
echo "== $BIN bench --json ${QUICK[*]}"
"$BIN" bench --json "$D/hxa079.json" "${QUICK[@]}"
mid=$(date +%s)
echo "== hxa079 bench: $(( mid - start ))s; /proc/loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== bench-pytorch.py bench --check ${QUICK[*]}"
"$PY" scripts/bench-pytorch.py bench --check --hxa079 "$BIN" --json "$D/pytorch.json" "${QUICK[@]}"
end=$(date +%s)
echo "== PyTorch: $(( end - mid ))s; /proc/loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$PY" scripts/bench-pytorch.py ratios "$D/hxa079.json" "$D/pytorch.json" | tee "$D/ratios.md"
[[ -n "$OUTDIR" ]] && echo "kept $D/hxa079.json, $D/pytorch.json, $D/ratios.md"
exit 0
