"""How far RWKV-Infer's long-context options move the logits from the truth,
as a function of position (scripts/long-context.sh runs the model and calls
this; SPEC.md (4a), (27a), decisions D2/D3).

    python scripts/long_context.py --bin 128 TRUTH_DUMPS -- LABEL=DUMPS ...

Each DUMPS is a comma-separated list of `hxa079 forward --dump` files, one per
call, in call order; their `logits` [T_call, V] are concatenated. For every
position p and every variant:
  max rel   max_v |l_v − t_v| / max_v |t_v|   (the package's ErrorMetrics max rel, per position)
  KL        Σ_v π_v (log π_v − log π'_v), π = softmax(truth), π' = softmax(variant), in float64
  top-1     argmax l == argmax t
The table shows, per bin of positions, the largest max rel, the mean KL and
the top-1 agreement (percent).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Notebooks"))
from hxa079_numpy import read_safetensors  # noqa: E402  (the notebooks' one safetensors reader)


def logits(paths: str) -> np.ndarray:
    return np.concatenate([read_safetensors(p)["logits"].astype(np.float64) for p in paths.split(",")], axis=0)


def log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def per_position(truth: np.ndarray, variant: np.ndarray):
    max_rel = np.abs(variant - truth).max(axis=1) / np.abs(truth).max(axis=1)
    lt, lv = log_softmax(truth), log_softmax(variant)
    kl = (np.exp(lt) * (lt - lv)).sum(axis=1)
    top1 = truth.argmax(axis=1) == variant.argmax(axis=1)
    return max_rel, kl, top1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=int, default=128, help="positions per table row")
    ap.add_argument("truth")
    ap.add_argument("variants", nargs="+", help="LABEL=DUMP[,DUMP…]")
    a = ap.parse_args()
    truth = logits(a.truth)
    T = truth.shape[0]
    rows = []
    for spec in a.variants:
        label, _, paths = spec.partition("=")
        v = logits(paths)
        if v.shape != truth.shape:
            print(f"long_context.py: {label}: logits {v.shape}, truth {truth.shape}", file=sys.stderr)
            return 1
        if not np.isfinite(v).all():
            print(f"long_context.py: {label}: non-finite logits", file=sys.stderr)
            return 1
        rows.append((label, *per_position(truth, v)))
    head = f"{'positions':>11}"
    for label, *_ in rows:
        head += f" | {label + ' max rel':>22} {'mean KL':>9} {'top-1':>6}"
    print(head)
    for b0 in range(0, T, a.bin):
        b1 = min(T, b0 + a.bin)
        line = f"{b0:>5}-{b1 - 1:<5}"
        for _, max_rel, kl, top1 in rows:
            line += f" | {max_rel[b0:b1].max():>22.2e} {kl[b0:b1].mean():>9.2e} {100 * top1[b0:b1].mean():>5.1f}%"
        print(line)
    line = f"{'all':>11}"
    for _, max_rel, kl, top1 in rows:
        line += f" | {max_rel.max():>22.2e} {kl.mean():>9.2e} {100 * top1.mean():>5.1f}%"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
