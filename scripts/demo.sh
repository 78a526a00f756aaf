#!/usr/bin/env bash
# The README's main command: sets up what is missing, builds the CLI, runs the
# bundled tiny model (Fixtures/tiny) through the reference in float64 and the
# fast path in float32, and checks both against the committed golden fixture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== building hxa079 (release)"
swift build -c release --product hxa079 2>&1 | tail -1
BIN="$(swift build -c release --show-bin-path)/hxa079"
FIXTURE=Fixtures/tiny
TOKENS=$(python3 -c "import json;print(','.join(map(str,json.load(open('$FIXTURE/manifest.json'))['inputs']['tokens'])))" 2>/dev/null \
         || echo 5,17,200,3,99,42,7,128,64,1,250,33)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

echo "== the bundled model"
"$BIN" inspect --model "$FIXTURE/model" | head -12
echo
echo "== reference, float64: every checkpoint of one call over tokens $TOKENS"
"$BIN" forward --model "$FIXTURE/model" --tokens "$TOKENS" --precision f64 --dump "$OUT/ref64.safetensors" --checkpoints all
"$BIN" compare --fixture "$FIXTURE" --candidate "$OUT/ref64.safetensors" --failures-only
echo
echo "== fast path, float32, chunked prefill (L = 4) then checked against the float32 budgets"
"$BIN" forward --model "$FIXTURE/model" --tokens "$TOKENS" --engine fast --chunk-size 4 --dump "$OUT/fast32.safetensors" --checkpoints all
"$BIN" compare --fixture "$FIXTURE" --candidate "$OUT/fast32.safetensors" --failures-only
echo
echo "== a known-wrong engine (k scaled with the decay instead of w) is caught at its first checkpoint"
python3 - "$FIXTURE" "$OUT/mutant.safetensors" <<'PY' || true
import json, struct, sys
fixture, out = sys.argv[1], sys.argv[2]
# Copy the mutant's tensors out of mutants.safetensors under plain checkpoint names.
raw = open(f"{fixture}/mutants.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
prefix = "k_scaled_with_decay/"
entries, blobs, offset = {}, [], 0
for name, info in header.items():
    if not name.startswith(prefix): continue
    b, e = info["data_offsets"]; blob = data[b:e]
    entries[name[len(prefix):]] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + len(blob)]}
    blobs.append(blob); offset += len(blob)
h = json.dumps(entries, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(out, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
PY
set +e
"$BIN" compare --fixture "$FIXTURE" --candidate "$OUT/mutant.safetensors" --failures-only > "$OUT/mutant.txt"
status=$?
set -e
tail -2 "$OUT/mutant.txt"
if [ "$status" -ne 1 ]; then echo "demo: the mutant was NOT rejected (exit $status)"; exit 1; fi
echo
echo "demo: reference f64 and fast f32 agree with the fixture; the mutant was rejected (compare exit status 1)."
