"""Acceptance check of issue 19: an independent emulated bf16/f16 engine
(Notebooks/hxa079_lowp.py) against `hxa079 compare --profile bf16|f16`.

Contract
    On one seeded random model — head_dim 96, one KV head (Hkv = 1), GQA layers
    0 and 3 ("GQA first", so l_first = 1), BF16 weights — and a fixture made by
    `hxa079 fixtures make --model DIR --tokens <20 ids>` with default options:

    0. self-check (always): the engine with `--format f32` (no rounding) agrees
       with the float64 NumPy forward (Notebooks/hxa079_numpy.py) on every
       checkpoint and state tensor within SELF_TOL relative (max|Δ|/max|ref|),
       recurrent and chunked (L = 4); and the same check rejects the bf16 engine
       (negative control: the check can fail).
    1. acceptance (default; needs a `compare` with `--profile`): for each format
       (bf16, f16) the honest engine, run on every plan of the fixture (one_call
       in one process; token_by_token through --state-in/--state-out files, one
       process per call; the others with --calls/--chunk-sizes), passes
       `compare --profile FMT --split PLAN` (exit 0); every planted mistake that
       the fixture records as a mutant, run on the mutant's plan, fails (exit 1)
       and the first failing checkpoint is the mutant's `first_affected`
       (for removal_from_decayed_state: layers.{l_first}.rwkv.wkv).
       Beside it, with bf16: our own bf16 engine (`hxa079 forward --engine fast
       --precision bf16 --checkpoints all`, issue 20) on one_call, recurrent and
       --chunk-size 16, passes `compare` with the profile from its BF16 dump's
       dtype (every plan at every kernel level: Tests/Hxa079FastTests/BF16EngineTests.swift).
    2. `--measure` (works with today's `compare`, no --profile): per checkpoint
       max rel and NMSE against the f64 truth for the honest engine, its honest
       variants (state rounded per token, chunked L = 4) and every plant; the
       `--tolerance-scale` each would need under the f32 budgets (checked with
       `compare` for the honest runs: passes at 1.001·s, fails at s/1.001); and a
       float64 replay of every RWKV layer's WKV on the candidate's own dumped
       inputs (local NMSE, honest vs planted). `--report FILE` writes all
       figures as JSON.

    Exit status: 0 all checks passed; 1 a check failed (the line says which);
    2 the tools could not run (no --profile without --measure, a tool failed).

Usage: python scripts/lowp_check.py --bin PATH/hxa079 [--workdir DIR] [--keep]
           [--formats bf16,f16] [--measure] [--report FILE] [-v]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB = os.path.join(ROOT, "Notebooks")
sys.path.insert(0, NB)
import hxa079_numpy as H64  # noqa: E402
import hxa079_lowp as LP  # noqa: E402
from make_random_model import RandomModelSpec, write_model  # noqa: E402

ENGINE = os.path.join(NB, "hxa079_lowp.py")
TOKENS = [17, 200, 3, 96, 45, 128, 7, 255, 64, 1, 33, 190, 12, 80, 5, 141, 222, 9, 60, 101]
MODEL = RandomModelSpec(seed=19, hidden=192, heads=2, kv_heads=1, head_dim=96, intermediate=512,
                        vocab=257, layers=5, gqa=[0, 3], rk_norms=True, qk_norms=True, dtype="BF16")

# Self-check bound, f32 engine vs float64 NumPy, max|Δ|/max|ref| per tensor.
# Measured 2026-12-04 on this model and these tokens: worst 2.0e-6 (recurrent, at
# layers.4.mlp_out) and 2.0e-6 (chunked L = 4, at layers.2.mlp_out); 1e-5 leaves 5×
# headroom for another BLAS's summation order. A wrong function is far outside it: the
# smallest planted effect, removal_from_decayed_state, moves layers.1.rwkv.wkv by 4.8e-3
# (max rel, the fixture's mutant record), and the bf16 engine, the negative control
# below, is off by 3.6e-2.
SELF_TOL = 1e-5


class CheckFailed(Exception):
    pass


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} … exit {p.returncode}: {(p.stderr or p.stdout).strip()[-400:]}")
    return p


def rel_nmse(c, t):
    c, t = np.asarray(c, np.float64), np.asarray(t, np.float64)
    d = c - t
    mt = np.max(np.abs(t)) if t.size else 0.0
    st = np.sum(t * t)
    rel = (np.max(np.abs(d)) / mt) if mt > 0 else (0.0 if not np.any(d) else math.inf)
    nmse = (np.sum(d * d) / st) if st > 0 else (0.0 if not np.any(d) else math.inf)
    return float(rel), float(nmse)


# ----------------------------------------------------------------------------
# 0. self-check against the float64 NumPy forward
# ----------------------------------------------------------------------------

def self_check(model_dir, tokens, log):
    m = H64.load_model(model_dir)
    results = {}
    for label, L in (("recurrent", 0), ("chunked L=4", 4)):
        _, ref, s_ref = H64.forward(m, tokens, None, L)
        ref = {**ref, **H64.state_tensors(m, s_ref)}
        for fmt in ("f32", "bf16"):
            _, cps, s = LP.forward(LP.LowpModel(m, fmt), tokens, None, L)
            got = {**cps, **H64.state_tensors(m, s)}
            if set(got) != set(ref):
                raise CheckFailed(f"self-check: names differ: {sorted(set(got) ^ set(ref))[:5]}")
            worst, where = 0.0, None
            for k in ref:
                if k == "state.position":
                    if int(got[k][0]) != int(ref[k][0]):
                        raise CheckFailed("self-check: state.position differs")
                    continue
                if got[k].shape != ref[k].shape:
                    raise CheckFailed(f"self-check: {k} shape {got[k].shape} vs {ref[k].shape}")
                r, _ = rel_nmse(got[k], ref[k])
                if r > worst:
                    worst, where = r, k
            results[(label, fmt)] = (worst, where)
            log(f"  self-check {label:12s} --format {fmt:4s}: worst max rel {worst:.2e} at {where}")
    for label in ("recurrent", "chunked L=4"):
        worst, where = results[(label, "f32")]
        if not worst <= SELF_TOL:
            raise CheckFailed(f"self-check ({label}): f32 engine off the float64 forward by {worst:.2e} "
                              f"at {where} (bound {SELF_TOL:.0e})")
        if not results[(label, "bf16")][0] > SELF_TOL:
            raise CheckFailed(f"self-check ({label}): negative control: the bf16 engine is within {SELF_TOL:.0e}")
    return {f"{l}/{f}": {"max_rel": w, "at": k} for (l, f), (w, k) in results.items()}


# ----------------------------------------------------------------------------
# Running the engine and compare
# ----------------------------------------------------------------------------

class Runner:
    def __init__(self, bin_, model, fixture, work, verbose):
        self.bin, self.model, self.fx, self.work, self.verbose = bin_, model, fixture, work, verbose
        with open(os.path.join(fixture, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.plans = {p["name"]: p for p in self.manifest["plans"]}
        self.names = [c["name"] for c in self.manifest["checkpoints"]]
        self.budget = {c["name"]: c["budget"] for c in self.manifest["checkpoints"]}
        self.tokens = [int(t) for t in self.manifest["inputs"]["tokens"]] if isinstance(
            self.manifest["inputs"].get("tokens"), list) else TOKENS
        self._truth = None

    def truth(self, plan):
        if self._truth is None:
            from safetensors.numpy import load_file
            self._truth = load_file(os.path.join(self.fx, "f64.safetensors"))
        pre = plan + "/"
        return {k[len(pre):]: v for k, v in self._truth.items() if k.startswith(pre)}

    def engine(self, args):
        return run([sys.executable, ENGINE, "--model", self.model] + args)

    def dump(self, fmt, plan, plant=None, variant=None, tag=None):
        """Runs the engine on a plan; returns the dump path."""
        p = self.plans[plan]
        calls, chunks = p["calls"], p["chunk_sizes"]
        if variant == "chunked4":
            chunks = [4 if c > 1 else 0 for c in calls]
        name = f"{fmt}-{plan}-{plant or variant or 'honest'}"
        out = os.path.join(self.work, name + ".safetensors")
        extra = (["--plant", plant] if plant else []) + (["--state-per-token"] if variant == "state_per_token" else [])
        if plan == "token_by_token" and plant is None and variant is None:
            self._token_by_token_via_files(fmt, out)
        else:
            self.engine(["--tokens", ",".join(map(str, self.tokens)), "--format", fmt,
                         "--calls", ",".join(map(str, calls)), "--chunk-sizes", ",".join(map(str, chunks)),
                         "--dump", out] + extra)
        self._check_layout(out)
        return out

    def _check_layout(self, path):
        """The dump holds exactly the fixture's names (§4.3 and §4.4) with its shapes."""
        d = H64.read_safetensors(path)
        shapes = {c["name"]: tuple(c["shape"]) for c in self.manifest["checkpoints"]}
        if set(d) != set(shapes):
            raise CheckFailed(f"{os.path.basename(path)}: names differ from the fixture's: "
                              f"extra {sorted(set(d) - set(shapes))[:3]}, missing {sorted(set(shapes) - set(d))[:3]}")
        bad = [k for k in d if tuple(d[k].shape) != shapes[k]]
        if bad:
            raise CheckFailed(f"{os.path.basename(path)}: {bad[0]} has shape {d[bad[0]].shape}, fixture {shapes[bad[0]]}")

    def _token_by_token_via_files(self, fmt, out):
        """One engine process per token, the state carried in §4.4 state files;
        the per-call dumps concatenated on the token axis. Cross-checked bitwise
        against the in-process --calls 1,1,… run (the stored state is exact)."""
        st = None
        parts = []
        for t, tok in enumerate(self.tokens):
            d = os.path.join(self.work, f"tbt-{fmt}-{t}.safetensors")
            s_out = os.path.join(self.work, f"tbt-{fmt}-state-{t}.safetensors")
            self.engine(["--tokens", str(tok), "--format", fmt, "--dump", d, "--state-out", s_out]
                        + (["--state-in", st] if st else []))
            parts.append(H64.read_safetensors(d))
            st = s_out
        last = parts[-1]
        cat = {k: (np.concatenate([p[k] for p in parts], axis=0) if not k.startswith("state.") else last[k])
               for k in last}
        LP.write_tensors(out, cat, fmt)
        inproc = out + ".inproc"
        self.engine(["--tokens", ",".join(map(str, self.tokens)), "--format", fmt,
                     "--calls", ",".join("1" * len(self.tokens)), "--dump", inproc])
        a, b = H64.read_safetensors(out), H64.read_safetensors(inproc)
        bad = [k for k in a if not np.array_equal(a[k], b[k])]
        if set(a) != set(b) or bad:
            raise CheckFailed(f"token_by_token through state files differs from --calls 1,…: {bad[:3]}")
        os.remove(inproc)

    def compare(self, cand, plan, extra):
        p = run([self.bin, "compare", "--fixture", self.fx, "--candidate", cand, "--split", plan] + extra,
                check=False)
        text = p.stdout + p.stderr
        m = re.search(r"first is ([A-Za-z0-9_.]+)", text)
        first = m.group(1) if m else None
        if first is None:
            for line in p.stdout.splitlines():
                if re.search(r"\bFAIL\b", line):
                    first = line.split()[0]
                    break
        return p.returncode, first, text


# ----------------------------------------------------------------------------
# 1. acceptance with --profile
# ----------------------------------------------------------------------------

def mutant_plants(r: Runner):
    """The fixture's kept mutants that the engine can plant, with plan and first_affected."""
    out = []
    for mu in r.manifest.get("mutants", []):
        if mu["name"] in LP.PLANTS:
            out.append((mu["name"], mu["plan"], mu["first_affected"]))
    return out


def acceptance(r: Runner, fmt, log, failures):
    l_first = min(i for i, k in enumerate(r.manifest_kinds) if k == "rwkv")
    for plan in r.plans:
        cand = r.dump(fmt, plan)
        rc, first, text = r.compare(cand, plan, ["--profile", fmt])
        ok = rc == 0
        log(f"  [{'ok' if ok else 'FAIL'}] {fmt} honest, plan {plan}: compare exit {rc}"
            + ("" if ok else f", first failing {first}"))
        log(indent(text) if (r.verbose or not ok or plan == "one_call") else summary(text))
        if not ok:
            failures.append(f"{fmt}: honest engine fails compare --profile {fmt} on plan {plan} (first {first})")
    plants = mutant_plants(r)
    names = [p for p, _, _ in plants]
    for required in ("removal_from_decayed_state", "wkv_scale_missing", "k_scaled_with_decay"):
        if required not in names:
            failures.append(f"{fmt}: the fixture records no mutant {required}")
    for plant, plan, expect in plants:
        if plant == "removal_from_decayed_state" and expect != f"layers.{l_first}.rwkv.wkv":
            failures.append(f"fixture: {plant} first affected {expect}, want layers.{l_first}.rwkv.wkv")
        cand = r.dump(fmt, plan, plant=plant)
        rc, first, text = r.compare(cand, plan, ["--profile", fmt])
        ok = rc == 1 and first == expect
        log(f"  [{'ok' if ok else 'FAIL'}] {fmt} plant {plant}, plan {plan}: compare exit {rc}, "
            f"first failing {first} (want exit 1 at {expect})")
        log(indent(text) if (r.verbose or not ok or plant == "removal_from_decayed_state") else summary(text))
        if not ok:
            failures.append(f"{fmt}: plant {plant} gives exit {rc}, first failing {first}; want exit 1 at {expect}")


def our_bf16_engine(r: Runner, log, failures):
    """Our fast bf16 engine on one_call, recurrent and chunked at 16, through the CLI a porter uses."""
    for chunk in (0, 16):
        dump = os.path.join(r.work, f"ours-bf16-L{chunk}.safetensors")
        if os.path.exists(dump):
            os.remove(dump)
        run([r.bin, "forward", "--model", r.model, "--tokens", ",".join(map(str, r.tokens)), "--engine", "fast",
             "--precision", "bf16", "--chunk-size", str(chunk), "--checkpoints", "all", "--dump", dump])
        rc, first, text = r.compare(dump, "one_call", [])
        ok = rc == 0 and "profile by dtype" in text
        log(f"  [{'ok' if ok else 'FAIL'}] our bf16 engine (--engine fast --precision bf16), one_call, "
            f"chunk size {chunk}: compare exit {rc}" + ("" if ok else f", first failing {first}"))
        log(indent(text) if (r.verbose or not ok) else summary(text))
        if not ok:
            failures.append(f"our bf16 engine fails compare on one_call with chunk size {chunk} (first {first})")


def summary(text):
    """compare's first lines (what was compared) and its verdict line."""
    lines = text.rstrip().splitlines()
    keep = lines[:1] + [l for l in lines[1:] if l.startswith("hxa079:")]
    return "\n".join("      " + l for l in keep)


def indent(text, n=60):
    lines = text.rstrip().splitlines()
    if len(lines) > n:
        lines = lines[:n - 2] + [f"… ({len(lines) - n + 2} more lines)"] + lines[-1:]
    return "\n".join("      " + l for l in lines)


# ----------------------------------------------------------------------------
# 2. measurements for the budgets (today's compare)
# ----------------------------------------------------------------------------

def distances(r: Runner, cand, plan):
    c = H64.read_safetensors(cand)
    t = r.truth(plan)
    out = {}
    for name in r.names:
        if name == "state.position" or name not in c:
            continue
        rel, nmse = rel_nmse(c[name], t[name])
        tol = r.budget[name]["f32"]["tolerance"]
        need = max(rel / tol["max_rel"], math.sqrt(nmse / tol["nmse"]))
        out[name] = {"max_rel": rel, "nmse": nmse, "scale_needed": need}
    return out


def local_replay(r: Runner, cand):
    if isinstance(cand, str):
        cand = H64.read_safetensors(cand)
    """Stage-local replay (one_call dumps, from the zero state): every checkpoint
    re-computed in float64 (hxa079_numpy, the model's own weights) from the
    candidate's OWN dumped stage inputs, the candidate's value held against it.
    The WKV is replayed twice: with d = exp(−exp(w)) from the dumped w
    (`wkv`), and with the dumped (rounded) `decay` (`wkv[decay]`); α = −kk,
    β = kk·a from the dumped kk, a. Returns name → (max rel, NMSE)."""
    c = {k: np.asarray(v, np.float64) for k, v in cand.items() if k != "state.position"}
    m = r.m64
    T = c["embed"].shape[0]
    pos = np.arange(T)
    rep = {"embed": m.emb[np.asarray(r.tokens)]}
    prev = c["embed"]
    for l, kind in enumerate(m.kinds):
        w, p = m.layers[l], f"layers.{l}."
        xh = c[p + "norm1"]
        rep[p + "norm1"] = H64.rmsnorm(prev, w["input_layernorm.weight"], m.eps)
        if kind == "rwkv":
            q = p + "rwkv."
            rr = H64.linear(xh, w["receptance.weight"], w.get("receptance.bias")).reshape(T, m.H, m.N)
            kx = H64.linear(xh, w["key.weight"], w.get("key.bias")).reshape(T, m.Hkv, m.N)
            rep[q + "v"] = H64.linear(xh, w["value.weight"], w.get("value.bias")).reshape(T, m.Hkv, m.N)
            if "r_norm.weight" in w:
                rr = H64.rmsnorm(rr, w["r_norm.weight"], m.eps)
            if "k_norm.weight" in w:
                kx = H64.rmsnorm(kx, w["k_norm.weight"], m.eps)
            rep[q + "r"], rep[q + "k"] = H64.rope(rr, pos, m.theta), H64.rope(kx, pos, m.theta)
            k, v = c[q + "k"], c[q + "v"]
            if l == m.l_first:
                rep[q + "k_mixed"], rep[q + "v_mixed"] = k, v
            else:
                f = f"layers.{m.l_first}.rwkv."
                gv = H64.sigmoid(w["v0"].reshape(-1) + (xh @ w["v1"]) @ w["v2"]).reshape(k.shape)
                gk = H64.sigmoid(w["k0"].reshape(-1) + (xh @ w["k1"]) @ w["k2"]).reshape(k.shape)
                rep[q + "v_mixed"] = v + (c[f + "v"] - v) * gv
                rep[q + "k_mixed"] = k + (c[f + "k"] - k) * gk
            kbar = np.repeat(c[q + "k_mixed"], m.G, axis=1)
            vbar = np.repeat(c[q + "v_mixed"], m.G, axis=1)
            rep[q + "kk"] = kbar / np.maximum(np.sqrt(np.sum(kbar * kbar, -1, keepdims=True)), 1e-12)
            rep[q + "a"] = H64.sigmoid(w["a0"].reshape(-1) + (xh @ w["a1"]) @ w["a2"]).reshape(T, m.H, m.N)
            om = w["w0"].reshape(-1) + np.tanh(xh @ w["w1"]) @ w["w2"]
            rep[q + "w"] = (-H64.softplus(-om) - 0.5).reshape(T, m.H, m.N)
            ww, a, kk, kt, rr = c[q + "w"], c[q + "a"], c[q + "kk"], c[q + "k_scaled"], c[q + "r"]
            rep[q + "k_scaled"] = kbar * ((1.0 - ww) + a)
            rep[q + "decay"] = np.exp(-np.exp(ww))
            S0 = np.zeros((m.H, m.N, m.N))
            rep[q + "wkv"], _ = H64.wkv_recurrent(S0, rr, kt, vbar, -kk, kk * a, np.exp(-np.exp(ww)))
            rep[q + "wkv[decay]"], _ = H64.wkv_recurrent(S0, rr, kt, vbar, -kk, kk * a, c[q + "decay"])
            c[q + "wkv[decay]"] = c[q + "wkv"]
            rep[q + "bonus"] = np.sum((rr * kt) * w["r_k"][None], -1, keepdims=True) * vbar
            rep[q + "gate"] = (H64.sigmoid(xh @ w["g1"]) @ w["g2"]).reshape(T, m.H, m.N)
            y = c[q + "wkv"] * (1.0 / math.sqrt(m.N)) + c[q + "bonus"]
            rep[q + "mixer_out"] = H64.linear((y * c[q + "gate"]).reshape(T, -1), w["output.weight"], w.get("output.bias"))
            out = c[q + "mixer_out"]
        else:
            q = p + "gqa."
            qq = H64.linear(xh, w["q_proj.weight"], w.get("q_proj.bias")).reshape(T, m.H, m.N)
            kx = H64.linear(xh, w["k_proj.weight"], w.get("k_proj.bias")).reshape(T, m.Hkv, m.N)
            rep[q + "v"] = H64.linear(xh, w["v_proj.weight"], w.get("v_proj.bias")).reshape(T, m.Hkv, m.N)
            rep[q + "q"] = H64.rmsnorm(qq, w["q_norm.weight"], m.eps) if "q_norm.weight" in w else qq
            rep[q + "k"] = H64.rmsnorm(kx, w["k_norm.weight"], m.eps) if "k_norm.weight" in w else kx
            K, V = np.repeat(c[q + "k"], m.G, axis=1), np.repeat(c[q + "v"], m.G, axis=1)
            s = np.einsum("thn,jhn->thj", c[q + "q"], K) / math.sqrt(m.N)
            s = np.where((pos[None, :] <= pos[:, None])[:, None, :], s, -np.inf)
            e = np.exp(s - s.max(-1, keepdims=True))
            rep[q + "attn"] = np.einsum("thj,jhn->thn", e / e.sum(-1, keepdims=True), V)
            rep[q + "mixer_out"] = H64.linear(c[q + "attn"].reshape(T, -1), w["o_proj.weight"], w.get("o_proj.bias"))
            out = c[q + "mixer_out"]
        rep[p + "mixer_residual"] = prev + out
        h = c[p + "mixer_residual"]
        rep[p + "norm2"] = H64.rmsnorm(h, w["post_attention_layernorm.weight"], m.eps)
        rep[p + "mlp_out"] = H64.mlp(w, c[p + "norm2"])
        rep[p + "out"] = h + c[p + "mlp_out"]
        prev = c[p + "out"]
    rep["final_norm"] = H64.rmsnorm(prev, m.final_norm, m.eps)
    rep["logits"] = c["final_norm"] @ m.head.T
    return {k: rel_nmse(c[k], v) for k, v in rep.items()}


def measure(r: Runner, fmt, log, failures):
    runs = {}
    runs["honest"] = ("one_call", r.dump(fmt, "one_call"))
    runs["state_per_token"] = ("one_call", r.dump(fmt, "one_call", variant="state_per_token"))
    runs["chunked4"] = ("one_call", r.dump(fmt, "one_call", variant="chunked4"))
    for plan in r.plans:
        if plan != "one_call":
            runs[f"honest@{plan}"] = (plan, r.dump(fmt, plan))
    for plant, plan, _ in mutant_plants(r):
        runs[plant] = (plan, r.dump(fmt, plan, plant=plant))
    # the replay itself, on the truth's own inputs: local distance 0 up to f64 rounding
    worst = max(nm for _, nm in local_replay(r, r.truth("one_call")).values())
    log(f"  replay of the f64 truth on its own inputs: worst local NMSE {worst:.1e} (bound 1e-24)")
    if not worst <= 1e-24:
        failures.append(f"the float64 replay does not reproduce the truth (NMSE {worst:.1e})")
    figs = {k: {"plan": plan, "checkpoints": distances(r, path, plan)} for k, (plan, path) in runs.items()}
    for k, (plan, path) in runs.items():
        if plan == "one_call":
            figs[k]["local"] = {n: {"max_rel": a, "nmse": b} for n, (a, b) in local_replay(r, path).items()}
    # the scale today's compare needs, checked against compare itself for the honest runs
    for k in [k for k in runs if k.startswith("honest")]:
        plan, path = runs[k]
        worst = max(figs[k]["checkpoints"].items(), key=lambda kv: kv[1]["scale_needed"])
        s = worst[1]["scale_needed"]
        # held to the f32 budgets (--profile f32 where compare has profiles: a BF16 dump picks bf16 by itself)
        f32 = ["--profile", "f32", "--no-replay"] if r.has_profile else []
        rc_hi = r.compare(path, plan, f32 + ["--tolerance-scale", f"{s * 1.001:.6g}"])[0]
        rc_lo, first_lo, _ = r.compare(path, plan, f32 + ["--tolerance-scale", f"{s / 1.001:.6g}"])
        figs[k]["scale_needed"] = {"scale": s, "at": worst[0], "compare_exit_at_1.001s": rc_hi,
                                   "compare_exit_at_s/1.001": rc_lo}
        ok = rc_hi == 0 and rc_lo == 1
        log(f"  {fmt} {k:28s} needs --tolerance-scale {s:9.1f} (tightest {worst[0]}); compare at ×1.001: "
            f"exit {rc_hi}, at /1.001: exit {rc_lo} (first {first_lo}){'' if ok else '  <- MISMATCH'}")
        if not ok:
            failures.append(f"{fmt} {k}: compare disagrees with the computed scale {s:.1f}")
    for k in runs:
        if not k.startswith("honest"):
            worst = max(figs[k]["checkpoints"].items(), key=lambda kv: kv[1]["scale_needed"])
            log(f"  {fmt} {k:28s} would pass at  --tolerance-scale {worst[1]['scale_needed']:9.1f} "
                f"(tightest {worst[0]})")
    print_tables(r, fmt, figs, log)
    return figs


def print_tables(r, fmt, figs, log):
    one = [k for k in figs if figs[k]["plan"] == "one_call"]
    short = {"honest": "honest", "state_per_token": "st/tok", "chunked4": "chunk4",
             "removal_from_decayed_state": "removal", "readout_from_old_state": "readout",
             "wkv_scale_missing": "noscale", "k_scaled_with_decay": "kt_dec",
             "k_first_before_rope": "kf_rope", "rope_in_gqa": "rope_gqa", "kv_heads_tiled": "tiled"}
    log(f"\n  {fmt}: NMSE against the f64 truth, plan one_call (plants on other plans below)")
    log("  " + f"{'checkpoint':26s}" + "".join(f"{short.get(k, k)[:8]:>9s}" for k in one) + f"{'f32 tol':>9s}")
    for name in r.names:
        if name == "state.position":
            continue
        cells = []
        for k in one:
            v = figs[k]["checkpoints"].get(name)
            cells.append(f"{v['nmse']:9.1e}" if v else f"{'-':>9s}")
        log("  " + f"{name:26s}" + "".join(cells) + f"{r.budget[name]['f32']['tolerance']['nmse']:9.1e}")
    others = [k for k in figs if figs[k]["plan"] != "one_call"]
    for k in others:
        plan = figs[k]["plan"]
        base = f"honest@{plan}"
        if k == base or base not in figs:
            continue
        cp = figs[k]["checkpoints"]
        log(f"\n  {fmt} {k} on {plan}: NMSE (honest on the same plan) at the RWKV wkv checkpoints and logits")
        for name in [n for n in r.names if n.endswith(".rwkv.wkv") or n == "logits" or n.startswith("state.layers")]:
            log(f"    {name:26s} {cp[name]['nmse']:9.1e} ({figs[base]['checkpoints'][name]['nmse']:9.1e})")
    log(f"\n  {fmt}: stage-local replay in float64 on the candidate's own inputs: local NMSE, plan one_call")
    log("  " + f"{'checkpoint':26s}" + "".join(f"{short.get(k, k)[:8]:>9s}" for k in one))
    for name in figs["honest"]["local"]:
        log("  " + f"{name:26s}" + "".join(f"{figs[k]['local'][name]['nmse']:9.1e}" for k in one))


# ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--formats", default="bf16,f16")
    ap.add_argument("--measure", action="store_true", help="interim figures with --tolerance-scale (no --profile needed)")
    ap.add_argument("--report", help="write every measured figure to this JSON file")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    formats = [f for f in a.formats.split(",") if f]
    for f in formats:
        if f not in ("bf16", "f16"):
            print(f"lowp_check: unknown format {f!r} (bf16, f16)", file=sys.stderr)
            return 2
    has_profile = "--profile" in run([a.bin, "compare", "--help"], check=False).stdout
    if not a.measure and not has_profile:
        print(f"lowp_check: {a.bin} compare has no --profile (issue 19 not built in); "
              "run with --measure for the interim --tolerance-scale figures", file=sys.stderr)
        return 2
    work = a.workdir or tempfile.mkdtemp(prefix="hxa079-lowp-")
    os.makedirs(work, exist_ok=True)
    log = lambda s: print(s, flush=True)
    failures, report = [], {"model": MODEL.__dict__, "tokens": TOKENS}
    t0 = time.time()
    try:
        model = os.path.join(work, "model")
        fx = os.path.join(work, "fixture")
        for d in (model, fx):
            shutil.rmtree(d, ignore_errors=True)
        write_model(model, MODEL)
        log(f"== model {model}: C {MODEL.hidden}, H {MODEL.heads} × N {MODEL.head_dim}, Hkv {MODEL.kv_heads}, "
            f"{MODEL.layers} layers, GQA at {MODEL.gqa}, {MODEL.dtype}")
        cmd = [a.bin, "fixtures", "make", "--model", model, "--tokens", ",".join(map(str, TOKENS)), "--out", fx]
        log("== " + " ".join(cmd))
        log(indent(run(cmd).stdout))
        r = Runner(a.bin, model, fx, work, a.verbose)
        r.has_profile = has_profile
        r.m64 = H64.load_model(model)
        r.manifest_kinds = r.m64.kinds
        log(f"== self-check: --format f32 vs the float64 NumPy forward (bound {SELF_TOL:.0e})")
        t = time.time()
        report["self_check"] = self_check(model, TOKENS, log)
        log(f"  ok ({time.time() - t:.1f}s)")
        for fmt in formats:
            t = time.time()
            if has_profile and not a.measure:
                log(f"== acceptance, --format {fmt}, compare --profile {fmt}")
                acceptance(r, fmt, log, failures)
                if fmt == "bf16":
                    log("== our bf16 engine, compare (profile from the BF16 dump)")
                    our_bf16_engine(r, log, failures)
            if a.measure:
                log(f"== measurements, --format {fmt} (f32 budgets of today's compare)")
                report[fmt] = measure(r, fmt, log, failures)
            log(f"  ({fmt}: {time.time() - t:.1f}s)")
    except CheckFailed as e:
        failures.append(str(e))
    except (RuntimeError, OSError, ValueError) as e:
        print(f"lowp_check: {e}", file=sys.stderr)
        return 2
    finally:
        if a.report:
            with open(a.report, "w") as f:
                json.dump(report, f, indent=1, default=float)
        if not a.keep and not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    log(f"== {time.time() - t0:.1f}s")
    if failures:
        for f in failures:
            print(f"FAILED: {f}", file=sys.stderr)
        return 1
    log("OK: all lowp checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
