#!/usr/bin/env bash
# How far RWKV-Infer's long-context behaviours move the logits from the truth
# (issue 18 deliverable 5; SPEC.md (4a), (27a), decisions D2/D3). Not run in CI.
#
#   scripts/long-context.sh [--preset small] [--tokens 1024] [--limit 256] [--window 256]
#                           [--call 64] [--precision f32] [--seed 1] [--bin 128] [--keep DIR]
#
# Writes the seeded random model of the preset, draws T random token ids, and
# runs `hxa079 forward` (reference engine) four times over them — the truth,
# --rope-position-limit LIMIT, --kv-window WINDOW, and both — each as calls of
# CALL tokens carrying the state through --state-out/--state-in, as
# RWKV-Infer's server prefills in chunks (of ≤ 512 tokens, with LIMIT = WINDOW =
# max_ctxlen, 8192 by default; a call may hold at most WINDOW tokens). The truth
# is split invariant, so its calls give the one-call result. Then
# scripts/long_context.py prints, per bin of positions, the max relative error
# of the logits against the truth, the mean KL divergence and the top-1
# agreement. All runs use the same precision, so the table is the options'
# effect alone.
#
# Environment: HXA079_BIN (executable to use; default: `swift build -c release
# --product hxa079` and that build), HXA079_VENV / PYTHON (the notebooks' venv,
# scripts/lib.sh; numpy and safetensors are installed into it at the
# Notebooks/requirements.txt pins if missing).
# Exit status: 0 table printed; 1 a run failed; 2 bad arguments or setup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${HXA079_BIN:-}" && "$HXA079_BIN" != /* ]]; then HXA079_BIN="$PWD/$HXA079_BIN"; fi
PRESET=small T=1024 LIMIT=256 WINDOW=256 CALL=64 PRECISION=f32 SEED=1 BIN=128 KEEP=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --preset) PRESET=$2 ;;
        --tokens) T=$2 ;;
        --limit) LIMIT=$2 ;;
        --window) WINDOW=$2 ;;
        --call) CALL=$2 ;;
        --precision) PRECISION=$2 ;;
        --seed) SEED=$2 ;;
        --bin) BIN=$2 ;;
        --keep) KEEP=$2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "long-context.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    [[ $# -ge 2 ]] || { echo "long-context.sh: $1 needs a value" >&2; exit 2; }
    shift 2
done
for v in T LIMIT WINDOW CALL BIN; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "long-context.sh: ${v,,} must be a positive integer, got ${!v}" >&2; exit 2; }
done
(( CALL <= WINDOW )) || { echo "long-context.sh: --call $CALL exceeds --window $WINDOW (a call may hold at most the window)" >&2; exit 2; }
cd "$ROOT"

source "$ROOT/scripts/lib.sh"
hxa079_venv
PY="$VENV/bin/python"
for pkg in numpy safetensors; do
    if ! "$PY" -c "import $pkg" 2>/dev/null; then
        "$PY" -m pip install --quiet "$(grep -E "^$pkg==" Notebooks/requirements.txt)" || exit 2
    fi
done
if [[ -z "${HXA079_BIN:-}" ]]; then
    echo "== swift build -c release --product hxa079" >&2
    swift build -c release --product hxa079 >&2
    HXA079_BIN="$(swift build -c release --show-bin-path)/hxa079"
fi
[[ -x "$HXA079_BIN" ]] || { echo "hxa079 executable not found: $HXA079_BIN" >&2; exit 2; }

if [[ -n "$KEEP" ]]; then
    [[ ! -e "$KEEP" || -z "$(ls -A "$KEEP")" ]] || { echo "long-context.sh: --keep $KEEP is not empty" >&2; exit 2; }
    W=$KEEP; mkdir -p "$W"
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/hxa079-long-context.XXXXXX"); trap 'rm -rf "$W"' EXIT
fi

"$HXA079_BIN" init-model --preset "$PRESET" --seed "$SEED" --out "$W/model" >/dev/null
VOCAB=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$W/model/config.json")
"$PY" -c "import numpy as np,sys; r=np.random.default_rng(int(sys.argv[1])); print(','.join(map(str, r.integers(0, int(sys.argv[2]), int(sys.argv[3])))))" \
    "$SEED" "$VOCAB" "$T" > "$W/tokens.txt"
IFS=, read -r -a IDS < "$W/tokens.txt"

# run LABEL FLAGS…: the T tokens in calls of CALL, state carried; sets DUMPS to the dumps in order.
run() {
    local label=$1; shift
    local start=0 i=0 state="" list
    DUMPS=""
    local t0=$(date +%s)
    while (( start < T )); do
        list=$(IFS=,; echo "${IDS[*]:start:CALL}")
        "$HXA079_BIN" forward --model "$W/model" --tokens "$list" --precision "$PRECISION" "$@" \
            ${state:+--state-in "$state"} --state-out "$W/$label.$i.state" \
            --dump "$W/$label.$i.st" --checkpoints logits >/dev/null || { echo "long-context.sh: $label call $i failed" >&2; exit 1; }
        [[ -n "$state" ]] && rm -f "$state"
        state="$W/$label.$i.state"
        DUMPS+="${DUMPS:+,}$W/$label.$i.st"
        start=$(( start + CALL )); i=$(( i + 1 ))
    done
    echo "== $label: $T tokens in $i calls, $(( $(date +%s) - t0 )) s" >&2
}

echo "# preset $PRESET (seed $SEED), T $T, $PRECISION reference, calls of $CALL; limit $LIMIT, window $WINDOW; $(date -u +%Y-%m-%d)"
run truth;                                                        TRUTH=$DUMPS
run rope   --rope-position-limit "$LIMIT";                        ROPE=$DUMPS
run window --kv-window "$WINDOW";                                 WIN=$DUMPS
run both   --rope-position-limit "$LIMIT" --kv-window "$WINDOW";  BOTH=$DUMPS
"$PY" scripts/long_context.py --bin "$BIN" "$TRUTH" "rope-limit=$ROPE" "kv-window=$WIN" "both=$BOTH"
