"""Per-position errors of long runs against a truth (scripts/long-context.sh
runs the model call by call and calls this; SPEC.md (4a), (27a), §7.5;
BENCHMARKS.md "40 000 tokens").

    python scripts/long_context.py add --table T.npz --checkpoints LIST TRUTH.st LABEL=VARIANT.st ...
    python scripts/long_context.py report --table T.npz [--bin 128] [--csv FILE]

`add` reads one call's dumps (`hxa079 forward --dump`), checks that every
value of every listed checkpoint is finite (exit 1 otherwise), and appends the
call's rows to the table (created on the first call; calls in order). Per
position p, checkpoint c and variant:
  max rel   max_i |x_i − t_i| / max_i |t_i| over the row (the package's ErrorMetrics max rel, per position)
and for the logits also
  KL        Σ_v π_v (log π_v − log π'_v), π = softmax(truth), π' = softmax(variant), in float64
  top-1     argmax x == argmax t
`report` prints, per bin of positions, the largest max rel, the mean KL and the
top-1 agreement (percent) of the logits, and the largest max rel over the other
checkpoints; `--csv FILE --run LABEL` appends every (variant, checkpoint,
metric, bin) as a row labelled LABEL (the "all" row is the whole run).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Notebooks"))
from hxa079_numpy import read_safetensors  # noqa: E402  (the notebooks' one safetensors reader)


def log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def rows(dump: dict, name: str, path: str) -> np.ndarray:
    if name not in dump:
        raise SystemExit(f"long_context.py: {path} has no {name}")
    a = dump[name].astype(np.float64)
    a = a.reshape(a.shape[0], -1)
    if not np.isfinite(a).all():
        print(f"long_context.py: {path}: {name} has {np.count_nonzero(~np.isfinite(a))} non-finite values", file=sys.stderr)
        sys.exit(1)
    return a


def add(a) -> int:
    names = a.checkpoints.split(",")
    truth = read_safetensors(a.truth)
    table = dict(np.load(a.table)) if os.path.exists(a.table) else {}
    new: dict[str, np.ndarray] = {}
    t = {n: rows(truth, n, a.truth) for n in names}
    for spec in a.variants:
        label, _, path = spec.partition("=")
        dump = read_safetensors(path)
        for n in names:
            v = rows(dump, n, path)
            if v.shape != t[n].shape:
                print(f"long_context.py: {label}: {n} {v.shape}, truth {t[n].shape}", file=sys.stderr)
                return 1
            new[f"{label}|{n}|max_rel"] = np.abs(v - t[n]).max(axis=1) / np.abs(t[n]).max(axis=1)
            if n == "logits":
                lt, lv = log_softmax(t[n]), log_softmax(v)
                new[f"{label}|{n}|kl"] = (np.exp(lt) * (lt - lv)).sum(axis=1)
                new[f"{label}|{n}|top1"] = (t[n].argmax(axis=1) == v.argmax(axis=1)).astype(np.float64)
    for k, v in new.items():
        table[k] = np.concatenate([table[k], v]) if k in table else v
    np.savez(a.table, **table)
    return 0


def report(a) -> int:
    table = dict(np.load(a.table))
    variants = list(dict.fromkeys(k.split("|")[0] for k in table))
    T = len(next(iter(table.values())))
    bins = [(f"{b0:>5}-{min(T, b0 + a.bin) - 1:<5}", b0, min(T, b0 + a.bin)) for b0 in range(0, T, a.bin)]
    bins.append((f"{'all':>11}", 0, T))
    head = f"{'positions':>11}"
    for label in variants:
        head += f" | {label + ' logits max rel':>24} {'mean KL':>9} {'top-1':>6}"
        if any(k.startswith(label + "|layers.") for k in table):
            head += f" {'layers.*.out max rel':>20}"
    print(head)
    out = []
    for line, b0, b1 in bins:
        for label in variants:
            s = slice(b0, b1)
            mr, kl, top = (table[f"{label}|logits|{m}"][s] for m in ("max_rel", "kl", "top1"))
            line += f" | {mr.max():>24.2e} {kl.mean():>9.2e} {100 * top.mean():>5.1f}%"
            layers = [k for k in table if k.startswith(label + "|layers.") and k.endswith("|max_rel")]
            if layers:
                line += f" {max(table[k][s].max() for k in layers):>20.2e}"
            for k, v in table.items():
                if k.startswith(label + "|"):
                    _, name, metric = k.split("|")
                    value = v[s].mean() if metric in ("kl", "top1") else v[s].max()
                    out.append((label, name, metric, b0, b1, value))
        print(line)
    if a.csv:
        exists = os.path.exists(a.csv) and os.path.getsize(a.csv) > 0
        with open(a.csv, "a", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            if not exists:
                w.writerow(["run", "variant", "checkpoint", "metric", "first_position", "end_position", "value"])
            for label, name, metric, b0, b1, value in out:
                w.writerow([a.run, label, name, metric, b0, b1, f"{value:.4e}"])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("add", help="append one call's per-position errors to the table")
    p.add_argument("--table", required=True)
    p.add_argument("--checkpoints", default="logits", help="comma-separated checkpoint names (logits first)")
    p.add_argument("truth")
    p.add_argument("variants", nargs="+", help="LABEL=DUMP")
    p = sub.add_parser("report", help="print the table per bin of positions")
    p.add_argument("--table", required=True)
    p.add_argument("--bin", type=int, default=128, help="positions per table row")
    p.add_argument("--csv", help="also append the binned figures to this CSV (metric max_rel: max over the bin; kl, top1: mean)")
    p.add_argument("--run", default="", help="the CSV's run column (e.g. 'small fast T 40000')")
    a = ap.parse_args()
    return add(a) if a.command == "add" else report(a)


if __name__ == "__main__":
    sys.exit(main())
