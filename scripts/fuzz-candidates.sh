#!/usr/bin/env bash
# fuzz-candidates.sh — fuzz the comparison of candidate dumps (what
# `hxa079 compare`, `step --compare` and the Oracle read) with libFuzzer +
# AddressSanitizer, against the committed fixture Fixtures/tiny.
#
# Usage: scripts/fuzz-candidates.sh [RUNS | SECONDSs]
#   scripts/fuzz-candidates.sh            # 1,000,000 executions (default)
#   scripts/fuzz-candidates.sh 300s       # 300 seconds
#
# Contract:
# - Builds the FuzzCandidateDumps product into .build-fuzz with
#   -sanitize=fuzzer,address -parse-as-library -DFUZZING, as
#   scripts/fuzz-safetensors.sh builds FuzzSafeTensors but in release (-O):
#   every input runs the whole comparison over tensors of up to 3072 values,
#   which a debug build does at ≈ 200 exec/s. -O keeps Swift's overflow and
#   bounds checks (only -Ounchecked removes them), so a trap is still a finding.
# - Seeds fuzz-corpus/candidates/seeds/ (git-ignored) with raw dumps cut from
#   the fixture's truth (first byte 0x00: the rest is the file) and recipes
#   (first byte odd: the rest drives the generator in
#   Sources/FuzzCandidateDumps/FuzzEntry.swift); new inputs go to
#   fuzz-corpus/candidates/queue/, crashes to fuzz-corpus/candidates/artifacts/.
# - Prints libFuzzer's final statistics; exits non-zero if libFuzzer found a
#   crash, leak, timeout or out-of-memory. Reproduce one with
#   `.build-fuzz/release/FuzzCandidateDumps fuzz-corpus/candidates/artifacts/crash-<hash>`.
set -euo pipefail

cd "$(dirname "$0")/.."

ROOT=$(pwd)
source scripts/lib.sh
fuzz_limit "${1:-1000000}"
dir=fuzz-corpus/candidates
fuzz_build FuzzCandidateDumps release "$dir"

echo "== writing seeds"
python3 - "$dir/seeds" Fixtures/tiny/f64.safetensors <<'PY'
import json, os, random, struct, sys
out, truth = sys.argv[1], sys.argv[2]
blob = open(truth, "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
data = blob[8 + n:]

def dump(names, dtype="F64"):
    h, body = {}, b""
    for name in names:
        e = header["one_call/" + name]
        raw = data[e["data_offsets"][0]:e["data_offsets"][1]]
        if dtype == "F32" and e["dtype"] == "F64":
            raw = struct.pack("<%df" % (len(raw) // 8), *struct.unpack("<%dd" % (len(raw) // 8), raw))
            d = "F32"
        else:
            d = e["dtype"]
        h[name] = {"dtype": d, "shape": e["shape"], "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    j = json.dumps(h, separators=(",", ":")).encode()
    j += b" " * (-len(j) % 8)
    return struct.pack("<Q", len(j)) + j + body

for i, (names, dtype) in enumerate([(["state.position"], "F64"), (["layers.0.rwkv.k", "state.position"], "F64"),
                                     (["layers.1.rwkv.wkv"], "F32"), (["embed"], "F32")]):
    with open(os.path.join(out, "raw-%d" % i), "wb") as f:
        f.write(b"\x00" + dump(names, dtype))
rng = random.Random(79)
for i in range(16):
    with open(os.path.join(out, "recipe-%d" % i), "wb") as f:
        f.write(bytes([2 * rng.randrange(128) + 1]) + bytes(rng.randrange(256) for _ in range(64)))
PY

export HXA079_FUZZ_FIXTURE=Fixtures/tiny
fuzz_run "$dir" -max_len=2048 -timeout=10 -rss_limit_mb=4096
