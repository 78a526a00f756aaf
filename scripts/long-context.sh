#!/usr/bin/env bash
# Long runs against a truth, position by position (issue 18 deliverables 4 and
# 5; SPEC.md (4a), (27a), decisions D2/D3, §7.5). Not run in CI.
#
#   scripts/long-context.sh [--compare options|precision] [--preset small] [--tokens 1024]
#                           [--engine reference|fast] [--precision f64|f32] [--call 64]
#                           [--limit 256] [--window 256] [--checkpoints LIST] [--seed 1]
#                           [--bin 128] [--csv FILE] [--keep DIR]
#
# Writes the seeded random model of the preset, draws T random token ids, and
# runs `hxa079 forward --engine ENGINE` over them as calls of CALL tokens, each
# variant carrying its own state through --state-out/--state-in (as
# RWKV-Infer's server prefills in chunks). The variants run call by call side
# by side; after each call scripts/long_context.py adds that call's per-position
# errors against the truth to a table and the call's dumps are deleted, so the
# disk holds one call's dumps at a time whatever T.
#
#   --compare options (default): the truth, --rope-position-limit LIMIT,
#       --kv-window WINDOW, and both, all in PRECISION: the options' effect
#       alone. RWKV-Infer's defaults are LIMIT = WINDOW = max_ctxlen = 8192 with
#       calls of ≤ 512 tokens (a call may hold at most WINDOW tokens). Compared:
#       the logits (max rel, mean KL, top-1 agreement).
#   --compare precision: the f64 run of ENGINE is the truth and the f32 run the
#       variant (PRECISION ignored): the float32 drift. Compared: the logits and
#       every checkpoint of LIST (default: logits and every layers.*.out).
#
# Each variant's wall time (sum over its calls) and peak RSS (the largest of
# its calls, /usr/bin/time) is printed. The table (per bin of BIN positions)
# goes to stdout; --csv FILE also appends it to a CSV (run column "PRESET ENGINE
# T N calls CALL [limit … window …]"; Notebooks/data/long-context-40k.csv).
# The truth (no options) is split invariant, so its calls give the one-call result.
#
# Environment: HXA079_BIN (executable to use; default: `swift build -c release
# --product hxa079` and that build), HXA079_VENV / PYTHON (the notebooks' venv,
# scripts/lib.sh; numpy and safetensors are installed into it at the
# Notebooks/requirements.txt pins if missing), TMPDIR (where the run's files go).
# Exit status: 0 table printed; 1 a run failed or a value was not finite; 2 bad arguments or setup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${HXA079_BIN:-}" && "$HXA079_BIN" != /* ]]; then HXA079_BIN="$PWD/$HXA079_BIN"; fi
COMPARE=options PRESET=small T=1024 ENGINE=reference LIMIT=256 WINDOW=256 CALL=64 PRECISION=f32 SEED=1 BIN=128
KEEP= CSV= CHECKPOINTS=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --compare) COMPARE=$2 ;;
        --preset) PRESET=$2 ;;
        --tokens) T=$2 ;;
        --engine) ENGINE=$2 ;;
        --limit) LIMIT=$2 ;;
        --window) WINDOW=$2 ;;
        --call) CALL=$2 ;;
        --precision) PRECISION=$2 ;;
        --checkpoints) CHECKPOINTS=$2 ;;
        --seed) SEED=$2 ;;
        --bin) BIN=$2 ;;
        --csv) CSV=$2 ;;
        --keep) KEEP=$2 ;;
        -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
        *) echo "long-context.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    [[ $# -ge 2 ]] || { echo "long-context.sh: $1 needs a value" >&2; exit 2; }
    shift 2
done
for v in T LIMIT WINDOW CALL BIN; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "long-context.sh: ${v,,} must be a positive integer, got ${!v}" >&2; exit 2; }
done
[[ "$COMPARE" == options || "$COMPARE" == precision ]] || { echo "long-context.sh: --compare options|precision, got $COMPARE" >&2; exit 2; }
[[ "$ENGINE" == reference || "$ENGINE" == fast ]] || { echo "long-context.sh: --engine reference|fast, got $ENGINE" >&2; exit 2; }
[[ "$PRECISION" == f64 || "$PRECISION" == f32 ]] || { echo "long-context.sh: --precision f64|f32, got $PRECISION" >&2; exit 2; }
if [[ "$COMPARE" == options ]] && (( CALL > WINDOW )); then
    echo "long-context.sh: --call $CALL exceeds --window $WINDOW (a call may hold at most the window)" >&2; exit 2
fi
[[ -n "$CSV" && "$CSV" != /* ]] && CSV="$PWD/$CSV"
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
[[ -x /usr/bin/time ]] || { echo "long-context.sh: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

if [[ -n "$KEEP" ]]; then
    [[ ! -e "$KEEP" || -z "$(ls -A "$KEEP")" ]] || { echo "long-context.sh: --keep $KEEP is not empty" >&2; exit 2; }
    W=$KEEP; mkdir -p "$W"
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/hxa079-long-context.XXXXXX"); trap 'rm -rf "$W"' EXIT
fi

"$HXA079_BIN" init-model --preset "$PRESET" --seed "$SEED" --out "$W/model" >/dev/null
read -r VOCAB LAYERS < <("$PY" -c "import json,sys; c=json.load(open(sys.argv[1])); print(c['vocab_size'], c['num_hidden_layers'])" "$W/model/config.json")
"$PY" -c "import numpy as np,sys; r=np.random.default_rng(int(sys.argv[1])); print(','.join(map(str, r.integers(0, int(sys.argv[2]), int(sys.argv[3])))))" \
    "$SEED" "$VOCAB" "$T" > "$W/tokens.txt"
IFS=, read -r -a IDS < "$W/tokens.txt"

# The variants: LABELS[k] with the flags FLAGS[k]; variant 0 is the truth.
if [[ "$COMPARE" == options ]]; then
    LABELS=(truth rope-limit kv-window both)
    FLAGS=("--precision $PRECISION" "--precision $PRECISION --rope-position-limit $LIMIT"
           "--precision $PRECISION --kv-window $WINDOW" "--precision $PRECISION --rope-position-limit $LIMIT --kv-window $WINDOW")
    CHECKPOINTS=logits
    RUNTAG=" limit $LIMIT window $WINDOW $PRECISION"
    HEADER="# compare options: preset $PRESET (seed $SEED), T $T, $ENGINE $PRECISION, calls of $CALL; limit $LIMIT, window $WINDOW"
else
    LABELS=(f64 f32)
    FLAGS=("--precision f64" "--precision f32")
    if [[ -z "$CHECKPOINTS" ]]; then
        CHECKPOINTS=logits
        for (( l = 0; l < LAYERS; l++ )); do CHECKPOINTS+=",layers.$l.out"; done
    fi
    RUNTAG=" f32 vs f64"
    HEADER="# compare precision: preset $PRESET (seed $SEED), T $T, $ENGINE f32 vs $ENGINE f64, calls of $CALL; checkpoints $CHECKPOINTS"
fi
echo "$HEADER; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A STATE WALL RSS
for label in "${LABELS[@]}"; do STATE[$label]=""; WALL[$label]=0; RSS[$label]=0; done
start=0 i=0
while (( start < T )); do
    list=$(IFS=,; echo "${IDS[*]:start:CALL}")
    variants=()
    for k in "${!LABELS[@]}"; do
        label=${LABELS[$k]} state=${STATE[${LABELS[$k]}]}
        # shellcheck disable=SC2086  # FLAGS[k] is a list of words
        /usr/bin/time -f "%e %M" -o "$W/time" "$HXA079_BIN" forward --model "$W/model" --tokens "$list" --engine "$ENGINE" ${FLAGS[$k]} \
            ${state:+--state-in "$state"} --state-out "$W/$label.$i.state" \
            --dump "$W/$label.$i.st" --checkpoints "$CHECKPOINTS" >/dev/null \
            || { echo "long-context.sh: $label call $i (positions $start…) failed" >&2; exit 1; }
        read -r secs kib < "$W/time"
        WALL[$label]=$("$PY" -c "print(round(${WALL[$label]} + $secs, 1))")
        (( kib > RSS[$label] )) && RSS[$label]=$kib
        [[ -n "$state" ]] && rm -f "$state"
        STATE[$label]="$W/$label.$i.state"
        (( k == 0 )) || variants+=("$label=$W/$label.$i.st")
    done
    "$PY" scripts/long_context.py add --table "$W/table.npz" --checkpoints "$CHECKPOINTS" "$W/${LABELS[0]}.$i.st" "${variants[@]}" \
        || { echo "long-context.sh: call $i: comparison failed" >&2; exit 1; }
    rm -f "$W"/*."$i".st
    start=$(( start + CALL )); i=$(( i + 1 ))
done
for k in "${!LABELS[@]}"; do
    label=${LABELS[$k]}
    echo "# $label ($ENGINE ${FLAGS[$k]}): $T tokens in $i calls of ≤ $CALL, wall ${WALL[$label]} s, peak RSS $(( RSS[$label] / 1024 )) MiB"
done
"$PY" scripts/long_context.py report --table "$W/table.npz" --bin "$BIN" ${CSV:+--csv "$CSV" --run "$PRESET $ENGINE T $T calls $CALL$RUNTAG"}
