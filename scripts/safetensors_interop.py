#!/usr/bin/env python3
"""safetensors_interop.py DIR — the Python half of scripts/interop-check.sh.

Contract:
  (a) Loads every swift_*.safetensors in DIR (written by the Swift package's
      InteropTests phase 1) with Python's `safetensors.numpy.load_file` (BF16
      loads once ml_dtypes is imported) and, independently, by decoding the raw
      bytes; checks every tensor bit for bit against `expected_tensors()`, and checks
      the file is byte-identical to what `safetensors.numpy.save` writes for the
      same tensors and metadata (the reference writer's layout).
  (b) Writes py_all.safetensors (the same tensors, metadata
      {"generator": "python"}) and py_mixed.safetensors with
      `safetensors.numpy.save_file` for the Swift side (phase 2) to read.
Exits 1 on any mismatch and prints one line per check.

Requires numpy, safetensors and ml_dtypes (for BF16).
Keep expected_tensors() in sync with InteropFixture in
Tests/SafeTensorsTests/InteropTests.swift.
"""
import glob
import json
import os
import struct
import sys

import ml_dtypes  # registers bfloat16 with numpy, which safetensors.numpy needs for BF16
import numpy as np
from safetensors.numpy import load_file, save, save_file

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def ramp(n):
    return np.arange(n, dtype=np.float64) * 0.37 - 1.5


def expected_tensors():
    r = ramp(24)
    f32 = r.astype(np.float32)
    return {
        "ramp_f64": r.reshape(2, 3, 4),
        "ramp_f32": f32.reshape(6, 4),
        "ramp_bf16": f32.astype(ml_dtypes.bfloat16),
        "ramp_f16": f32.astype(np.float16).reshape(4, 6),
        "special_f32": np.array([0.0, -0.0, np.inf, -np.inf, np.float32(1.4e-45), np.finfo(np.float32).max],
                                dtype=np.float32),
        "special_f16": np.array([0x0001, 0x03FF, 0x8000, 0x7BFF, 0xFC00], dtype=np.uint16).view(np.float16),
        "a_i32": (np.arange(24, dtype=np.int32) * 7919 - 100000).astype(np.int32),
        "z_i64": np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max], dtype=np.int64),
        "scalar_f64": np.array(42.5, dtype=np.float64),
        "empty_f32": np.zeros((0, 3), dtype=np.float32),
    }


def bits(a):
    """Bit patterns, so -0.0 and NaN payloads compare exactly."""
    a = np.ascontiguousarray(a)
    return a.view({8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}[a.dtype.itemsize])


def raw_header(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:], blob


def raw_tensor(name, header, data):
    """A tensor decoded straight from the bytes, independently of the library."""
    info = header[name]
    b, e = info["data_offsets"]
    dt = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4"}[info["dtype"]]
    a = np.frombuffer(data[b:e], dtype=dt)
    if info["dtype"] == "BF16":
        a = a.view(ml_dtypes.bfloat16)
    return a.reshape(info["shape"])


def check_swift_file(path, metadata):
    name = os.path.basename(path)
    header, data, blob = raw_header(path)
    check(header.get("__metadata__") == metadata, f"{name}: metadata {header.get('__metadata__')}")
    expected = expected_tensors() if "empty" not in name else {}
    loaded = load_file(path)  # BF16 loads because ml_dtypes is imported
    check(sorted(loaded) == sorted(expected), f"{name}: tensor names")
    for k, want in expected.items():
        got = loaded.get(k)
        if got is None:
            continue
        check(got.dtype == want.dtype and got.shape == want.shape, f"{name}: {k} dtype/shape {got.dtype} {got.shape}")
        check(np.array_equal(bits(got), bits(want)), f"{name}: {k} values bit-exact (load_file)")
        check(np.array_equal(bits(raw_tensor(k, header, data)), bits(want)), f"{name}: {k} values bit-exact (raw bytes)")
    # The reference writer produces exactly the same bytes.
    check(save(expected, metadata=metadata) == blob, f"{name}: byte-identical to safetensors.numpy.save")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    d = sys.argv[1]
    swift_files = sorted(glob.glob(os.path.join(d, "swift_*.safetensors")))
    check(len(swift_files) == 3, f"found {len(swift_files)} Swift files in {d}")
    for p in swift_files:
        meta = None if "nometa" in p else {"generator": "swift"}
        check_swift_file(p, meta)

    save_file(expected_tensors(), os.path.join(d, "py_all.safetensors"), metadata={"generator": "python"})
    mixed = {"w": np.array([[0.5, -0.25], [0.125, 1e-300]]), "tokens": np.array([3, 1, 4, 1, 5, 9, 2, 6])}
    save_file(mixed, os.path.join(d, "py_mixed.safetensors"))
    print(f"wrote py_all.safetensors and py_mixed.safetensors to {d}")

    print(f"{len(failures)} failed" if failures else "python side: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
