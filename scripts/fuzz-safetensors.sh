#!/usr/bin/env bash
# fuzz-safetensors.sh — fuzz the safetensors reader (and JSON parser) with
# libFuzzer + AddressSanitizer.
#
# Usage: scripts/fuzz-safetensors.sh [RUNS | SECONDSs]
#   scripts/fuzz-safetensors.sh            # 1,000,000 executions (default)
#   scripts/fuzz-safetensors.sh 5000000    # 5M executions
#   scripts/fuzz-safetensors.sh 300s       # 300 seconds
#
# Contract:
# - Builds the FuzzSafeTensors product into .build-fuzz with
#   -sanitize=fuzzer,address -parse-as-library -DFUZZING (debug build, so
#   Swift's own overflow and bounds checks stay on as well).
# - Seeds fuzz-corpus/seeds/ (git-ignored) with a few small valid files written
#   by an inline Python 3 (stdlib only) generator that mimics the reference
#   writer, plus a token dictionary; new corpus inputs go to fuzz-corpus/queue/,
#   crashes to fuzz-corpus/artifacts/.
# - Prints libFuzzer's final statistics; exits non-zero if libFuzzer found a
#   crash, leak, timeout or out-of-memory. Reproduce one with
#   `.build-fuzz/debug/FuzzSafeTensors fuzz-corpus/artifacts/crash-<hash>`.
set -euo pipefail

cd "$(dirname "$0")/.."

ROOT=$(pwd)
source scripts/lib.sh
fuzz_limit "${1:-1000000}"
fuzz_build FuzzSafeTensors debug fuzz-corpus

echo "== writing seeds"
python3 - fuzz-corpus/seeds <<'PY'
import json, struct, sys, os
out = sys.argv[1]
SIZE = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "BF16": 2, "F16": 2}
RANK = {"F16": 0, "BF16": 1, "I32": 2, "F32": 3, "F64": 4, "I64": 5}

def write(name, tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes); reference ordering."""
    tensors = sorted(tensors, key=lambda t: (-RANK[t[1]], t[0].encode()))
    header, off, data = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for n, dt, shape, raw in tensors:
        header[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)

write("all-dtypes.safetensors", [
    ("f64", "F64", [2], struct.pack("<2d", 1.5, -0.0)),
    ("f32", "F32", [2, 1], struct.pack("<2f", 3.0, float("inf"))),
    ("bf16", "BF16", [3], struct.pack("<3H", 0x3F80, 0x7FC0, 0x0001)),
    ("f16", "F16", [1], struct.pack("<H", 0x3C00)),
    ("i64", "I64", [1], struct.pack("<q", -7)),
    ("i32", "I32", [2], struct.pack("<2i", 1, -1)),
], metadata={"format": "pt", "k": "v"})
write("rank0-and-empty.safetensors", [
    ("scalar", "F32", [], struct.pack("<f", 2.0)),
    ("empty", "F64", [0, 3], b""),
    ("e2", "I32", [0], b""),
])
write("metadata-only.safetensors", [], metadata={"a": "\u00e9\n"})
write("empty.safetensors", [])
write("unaligned.safetensors", [("x", "F64", [1], struct.pack("<d", 0.1)),
                                 ("y", "BF16", [2], struct.pack("<2H", 1, 2))], pad=False)
PY

cat > fuzz-corpus/safetensors.dict <<'DICT'
"{"
"}"
"["
"]"
"\x22dtype\x22:"
"\x22shape\x22:"
"\x22data_offsets\x22:"
"\x22__metadata__\x22:"
"\x22F64\x22"
"\x22F32\x22"
"\x22F16\x22"
"\x22BF16\x22"
"\x22I64\x22"
"\x22I32\x22"
"\\u"
"\\ud800"
"\\udc00"
"-0"
"1e9"
"9007199254740993"
"18446744073709551616"
DICT

fuzz_run fuzz-corpus -dict=fuzz-corpus/safetensors.dict -max_len=4096 -timeout=10 -rss_limit_mb=4096
