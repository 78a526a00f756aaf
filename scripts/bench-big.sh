#!/usr/bin/env bash
# Real-size benchmark (issue 17, deliverable 6; not run in CI): the `reka` preset in bf16 —
# a slice of LAYERS layers or the whole 44-layer model (≈ 42 GB) — through every engine and
# precision, prefill of PREFILL tokens then one decode step, each as its own `hxa079 forward`
# process. Per run it prints wall time, peak anonymous memory (RssAnon, sampled from
# /proc/PID/status every 50 ms), peak file-backed resident memory (RssFile), bytes read with
# read()/pread() (/proc/PID/io rchar, page-cache hits included: the reference's reads; the fast
# path reads most weights through the mapping, which rchar does not see), bytes fetched from
# storage (read_bytes, mapped pages included) and the model's bytes per wall second; beside it the
# sequential read rate of the model files measured in the same run (the bandwidth floor: no pass
# can read its weights faster).
#
#   scripts/bench-big.sh [--layers N] [--prefill T] [--dir DIR] [--keep] [--engines LIST]
#     --layers N     layers of the reka preset (default 4; 44 = the whole model)
#     --prefill T    prefill tokens (default 16)
#     --dir DIR      model directory (default /tmp/hxa079-reka-N); generated with init-model
#                    when absent, reused when present
#     --keep         do not delete a model directory this script generated
#     --engines LIST comma-separated of ref64,ref32,fast32,fast64 (default: all that the build has)
# Needs: a release build (HXA079_BIN or .build/release/hxa079), python3.
# Exit: 0 done; 2 bad arguments or no executable; 1 a run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=4; PREFILL=16; DIR=""; KEEP=0; ENGINES="ref64,ref32,fast32,fast64"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --layers) LAYERS="$2"; shift 2;;
        --prefill) PREFILL="$2"; shift 2;;
        --dir) DIR="$2"; shift 2;;
        --keep) KEEP=1; shift;;
        --engines) ENGINES="$2"; shift 2;;
        *) echo "bench-big: unknown argument $1 (see the header of $0)" >&2; exit 2;;
    esac
done
[[ "$LAYERS" =~ ^[0-9]+$ && "$LAYERS" -ge 1 && "$LAYERS" -le 44 ]] || { echo "bench-big: --layers must be 1…44" >&2; exit 2; }
[[ "$PREFILL" =~ ^[0-9]+$ && "$PREFILL" -ge 1 ]] || { echo "bench-big: --prefill must be ≥ 1" >&2; exit 2; }
BIN="${HXA079_BIN:-.build/release/hxa079}"
[[ -x "$BIN" ]] || { echo "bench-big: no executable at $BIN (swift build -c release --product hxa079)" >&2; exit 2; }
DIR="${DIR:-/tmp/hxa079-reka-$LAYERS}"
WORK=$(mktemp -d /tmp/bench-big.XXXXXX)
GENERATED=0
cleanup() { rm -rf "$WORK"; if [[ $GENERATED -eq 1 && $KEEP -eq 0 ]]; then rm -rf "$DIR"; fi; }
trap cleanup EXIT

echo "# bench-big $(date -u '+%Y-%m-%d %H:%M UTC'), reka --layers $LAYERS --dtype bf16, prefill $PREFILL + 1 decode step"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ ! -f "$DIR/config.json" ]]; then
    GENERATED=1
    echo "# generating $DIR"
    python3 scripts/bench_big_run.py "$WORK/init.json" -- "$BIN" init-model --preset reka --layers "$LAYERS" --dtype bf16 --out "$DIR" >/dev/null
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f'# init-model: {r[\"wall_s\"]:.1f} s, peak RssAnon {r[\"peak_anon_b\"]/1e6:.0f} MB')" "$WORK/init.json"
fi
echo "# model: $(du -sb "$DIR" | awk '{printf "%.2f GB", $1/1e9}') on disk"
"$BIN" inspect --model "$DIR" | sed -n '/^memory/,/^disk read/p' | sed 's/^/# inspect: /'

# sequential read rate of the model files (page cache as it is now, then the disk)
python3 - "$DIR" > "$WORK/readrate" <<'PY'
import os, sys, time
d = sys.argv[1]; n = 0; t = time.monotonic()
for f in sorted(os.listdir(d)):
    if f.endswith(".safetensors"):
        with open(os.path.join(d, f), "rb", buffering=0) as h:
            while True:
                b = h.read(16 << 20)
                if not b: break
                n += len(b)
print(f"{n / (time.monotonic() - t) / 1e9:.3f}")
PY
RATE=$(cat "$WORK/readrate")
echo "# sequential read of the model files, this run: $RATE GB/s"

TOKENS=$(python3 -c "import json,sys; v=json.load(open(sys.argv[1]))['vocab_size']; print(','.join(str((7*i+3) % v) for i in range($PREFILL)))" "$DIR/config.json")
MODEL_BYTES=$(du -sb "$DIR" | awk '{print $1}')
printf "\n| run | wall | peak RssAnon | peak RssFile | read() | from storage | model bytes / wall | floor at %s GB/s |\n|---|---|---|---|---|---|---|---|\n" "$RATE"
status=0
for e in ${ENGINES//,/ }; do
    case "$e" in
        ref64) flags=(--precision f64);;
        ref32) flags=(--precision f32);;
        fast32) flags=(--engine fast --precision f32);;
        fast64) flags=(--engine fast --precision f64);;
        *) echo "bench-big: unknown engine $e (ref64, ref32, fast32, fast64)" >&2; exit 2;;
    esac
    for step in prefill decode; do
        if [[ $step == prefill ]]; then
            args=(forward --model "$DIR" --tokens "$TOKENS" "${flags[@]}" --state-out "$WORK/$e.state" --dump "$WORK/$e.prefill.safetensors" --checkpoints logits)
        else
            [[ -f "$WORK/$e.state" ]] || continue
            args=(forward --model "$DIR" --tokens 1 "${flags[@]}" --state-in "$WORK/$e.state" --dump "$WORK/$e.decode.safetensors" --checkpoints logits)
        fi
        rc=0; python3 scripts/bench_big_run.py "$WORK/$e.$step.json" -- "$BIN" "${args[@]}" > "$WORK/$e.$step.log" 2>&1 || rc=$?
        if [[ $rc -eq 64 ]]; then   # a usage error (EX_USAGE): this build refuses the engine/precision pair
            echo "| $e $step | (this build has no such engine: $(head -1 "$WORK/$e.$step.log")) | | | | | |"; break
        elif [[ $rc -ne 0 ]]; then
            echo "bench-big: $e $step failed (exit $rc):" >&2; tail -3 "$WORK/$e.$step.log" >&2; status=1; break
        fi
        python3 - "$WORK/$e.$step.json" "$e $step" "$RATE" "$MODEL_BYTES" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); rate = float(sys.argv[3]); model = int(sys.argv[4]) / 1e9
print(f"| {sys.argv[2]} | {r['wall_s']:.1f} s | {r['peak_anon_b']/2**30:.2f} GiB | {r['peak_file_b']/2**30:.2f} GiB "
      f"| {r['read_b']/1e9:.2f} GB | {r.get('storage_b', 0)/1e9:.2f} GB | {model / r['wall_s']:.2f} GB/s | {model / rate:.1f} s |")
PY
    done
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
