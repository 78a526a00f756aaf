"""Independent check of the Swift reference (`hxa079 forward`) against the
float64 NumPy implementation in hxa079_numpy.py, on seeded random models.

For every configuration it
  * writes a random model (make_random_model.py),
  * runs the recurrent WKV in several calls continued through --state-in/--state-out,
    and in one call (Swift's split invariance of SPEC §4.5 must hold bitwise),
  * runs the chunked WKV (--chunk-size L for L in 1, 3, 16, L > T) in two calls, the
    second continued from a state file written by the NumPy side (format interop),
  * optionally starts from a random, externally written initial state,
  * compares every checkpoint of SPEC §4.3 and every state tensor of §4.4 in the
    dump, and the --state-out file, with the NumPy values:
        rel = max|Δ| / max|reference|  ≤  TOL (1e-10)
    and requires the exact set of names and shapes,
  * checks that `--checkpoints default` dumps exactly logits + layers.*.out.

Prints a table of the worst relative error per configuration and exits 1 on any
failure, naming the first failing checkpoint (canonical order of SPEC §4.2).

Usage: python independent_check.py --bin PATH/hxa079 [--workdir DIR] [--keep] [--only c01,c02]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hxa079_numpy as H  # noqa: E402
from make_random_model import RandomModelSpec, write_model  # noqa: E402

TOL = 1e-10


@dataclass
class Case:
    name: str
    spec: RandomModelSpec
    T: int = 20                       # tokens in the whole sequence
    splits: tuple = (6, 1)            # recurrent run: call lengths (rest goes to a last call)
    chunk_split: int = 4              # chunked runs: second call length
    chunk_sizes: tuple = (1, 3, 16, None)   # None → L > T
    init_position: int = 0            # > 0: random initial state at this position
    note: str = ""


def S(**kw) -> RandomModelSpec:
    return RandomModelSpec(**kw)


CASES = [
    Case("c01", S(seed=101, hidden=64, heads=4, kv_heads=2, head_dim=16, intermediate=80, vocab=97,
                  layers=3, gqa=[], dtype="F64"),
         note="N16 H4/2, no GQA, plain, F64, untied"),
    Case("c02", S(seed=102, hidden=64, heads=2, kv_heads=1, head_dim=32, intermediate=96, vocab=128,
                  layers=4, gqa=[0], biases=True, dtype="F32"),
         note="N32 H2/1, GQA@0 (l_first=1), biases, F32"),
    Case("c03", S(seed=103, hidden=64, heads=1, kv_heads=1, head_dim=64, intermediate=64, vocab=80,
                  layers=3, gqa=[2], rk_norms=True, qk_norms=True, tied=True, dtype="BF16"),
         note="N64 H1, GQA@last, r/k+q/k norms, tied, BF16"),
    Case("c04", S(seed=104, hidden=96, heads=1, kv_heads=1, head_dim=96, intermediate=64, vocab=64,
                  layers=3, gqa=[1], tied=True, tie_flag=True, dtype="F64", ranks=(16, 8, 8, 8, 16)),
         note="N96 H1, GQA@middle, tied(flag), F64"),
    Case("c05", S(seed=105, hidden=48, heads=2, kv_heads=1, head_dim=96, intermediate=72, vocab=100,
                  layers=2, gqa=[1], biases=True, dtype="BF16"),
         T=16, splits=(5,), note="N96 H2/1 H·N≠C, GQA@last, biases, BF16"),
    Case("c06", S(seed=106, hidden=96, heads=6, kv_heads=3, head_dim=16, intermediate=128, vocab=120,
                  layers=5, gqa=[0, 4], biases=True, rk_norms=True, qk_norms=True, dtype="F32",
                  mix_in_first=True, bookkeeping=True, layer_types=True),
         note="N16 H6/3, GQA@0,4, all options, mix-in-first, F32"),
    Case("c07", S(seed=107, hidden=80, heads=4, kv_heads=4, head_dim=32, intermediate=64, vocab=90,
                  layers=4, gqa=[2], qk_norms=True, dtype="F64"),
         note="N32 H4/4 (G=1), GQA@middle, q/k norms, F64"),
    Case("c08", S(seed=108, hidden=64, heads=8, kv_heads=1, head_dim=16, intermediate=64, vocab=70,
                  layers=3, gqa=[], rk_norms=True, tied=True, dtype="BF16"),
         init_position=1_000_003, note="N16 H8/1 (G=8), no GQA, r/k norms, tied, BF16, start p=1000003"),
    Case("c09", S(seed=109, hidden=32, heads=2, kv_heads=2, head_dim=64, intermediate=48, vocab=60,
                  layers=3, gqa=[1], biases=True, rk_norms=True, qk_norms=True, dtype="F64"),
         init_position=9, note="N64 H2/2 H·N≠C, GQA@middle, biases+norms, F64, start p=9 (random caches)"),
    Case("c10", S(seed=110, hidden=96, heads=3, kv_heads=1, head_dim=32, intermediate=96, vocab=128,
                  layers=6, gqa=[0, 1], tied=True, tie_flag=True, dtype="F32", mix_in_first=True),
         T=18, note="N32 H3/1, GQA@0,1 (l_first=2), tied(flag), F32"),
    Case("c11", S(seed=111, hidden=32, heads=2, kv_heads=2, head_dim=16, intermediate=48, vocab=50,
                  layers=3, gqa=[1], dtype="F64", w0_range=(-1.0, 3.0)),
         T=24, note="N16, strong decays (w0 in [-1,3]), GQA@middle, F64, T=24"),
    Case("c12", S(seed=112, hidden=96, heads=2, kv_heads=1, head_dim=48, intermediate=96, vocab=110,
                  layers=4, gqa=[3], biases=True, rk_norms=True, dtype="BF16", theta=1e6, eps=1e-6),
         note="N48 H2/1, GQA@last, biases, r/k norms, BF16, θ=1e6 ε=1e-6"),
    Case("c13", S(seed=113, hidden=64, heads=4, kv_heads=2, head_dim=16, intermediate=64, vocab=64,
                  layers=2, gqa=[0, 1], qk_norms=True, biases=True, dtype="F32"),
         chunk_sizes=(3,), note="all-GQA (no RWKV layer), q/k norms, biases, F32"),
    Case("c14", S(seed=114, hidden=64, heads=2, kv_heads=1, head_dim=32, intermediate=64, vocab=96,
                  layers=3, gqa=[], dtype="F64", w0_range=(-8.0, 0.0), ranks=(4, 4, 2, 2, 4)),
         T=24, splits=(1, 1, 1), init_position=5000, note="N32 H2/1, no GQA, T=1 calls, start p=5000, F64"),
    Case("c15", S(seed=115, hidden=48, heads=3, kv_heads=3, head_dim=16, intermediate=64, vocab=72,
                  layers=4, gqa=[0, 2], rk_norms=True, qk_norms=True, biases=True, dtype="F32",
                  rwkv_style=True, mix_in_first=True, bookkeeping=True),
         T=14, chunk_sizes=(3,), note="RWKV-style names (ln_r/ln_k), GQA@0,2, norms+biases, F32"),
    Case("c16", S(seed=116, hidden=64, heads=4, kv_heads=2, head_dim=16, intermediate=64, vocab=66,
                  layers=3, gqa=[1], dtype="F16", shards=3),
         T=14, chunk_sizes=(3,), note="3 shards + index.json, F16 weights, GQA@middle"),
    Case("c17", S(seed=117, hidden=64, heads=4, kv_heads=4, head_dim=16, intermediate=64, vocab=64,
                  layers=3, gqa=[1], tied=True, dtype="F64", minimal_config=True),
         T=12, chunk_sizes=(3,), note="minimal config.json (no head_dim/num_key_value_heads/tie/transformer_layers)"),
    Case("c18", S(seed=118, hidden=32, heads=2, kv_heads=1, head_dim=16, intermediate=32, vocab=40,
                  layers=2, gqa=[], dtype="F64", w0_range=(2.0, 8.0)),
         T=20, splits=(7,), chunk_sizes=(3, 16, None),
         note="strongest decays (w0 in [2,8]: w -> -0.5, d -> 0.545), chunked L=3,16,>T"),
]


# Known-wrong variants of the NumPy side (source substitutions in hxa079_numpy.py).
# `--mutants` checks that each is caught against the Swift dumps, i.e. that the
# random models and the comparison are sensitive to every convention listed.
MUTANTS = [
    ("D1 decay-form key scaling (1-d+a)", "kt = kbar * ((1.0 - ww) + a)", "kt = kbar * ((1.0 - np.exp(-np.exp(ww))) + a)"),
    ("RWKV KV expansion by tile", "kbar, vbar = np.repeat(k, G, axis=1), np.repeat(v, G, axis=1)",
     "kbar, vbar = np.tile(k, (1, G, 1)), np.tile(v, (1, G, 1))"),
    ("GQA KV expansion by tile", "Kx, Vx = np.repeat(K, G, axis=1), np.repeat(Vv, G, axis=1)",
     "Kx, Vx = np.tile(K, (1, G, 1)), np.tile(Vv, (1, G, 1))"),
    ("WKV state stored [key][value]", 'out[f"state.layers.{l}.wkv"] = s.wkv[l]',
     'out[f"state.layers.{l}.wkv"] = np.swapaxes(s.wkv[l], 1, 2)'),
    ("interleaved RoPE", "x1, x2 = x[..., :half], x[..., half:]", "x1, x2 = x[..., 0::2], x[..., 1::2]"),
    ("RoPE positions restart at 0 each call", "pos = p0 + np.arange(T)", "pos = np.arange(T)"),
    ("RoPE in GQA layers", 'cps[pre + "q"], cps[pre + "k"], cps[pre + "v"] = q, k, v',
     'q, k = rope(q, p0 + np.arange(T), m.theta or 1e4), rope(k, p0 + np.arange(T), m.theta or 1e4)\n'
     '    cps[pre + "q"], cps[pre + "k"], cps[pre + "v"] = q, k, v'),
    ("bonus added before the N^-1/2 scale", "    y = y + bonus\n", "    y = (o + bonus) * cN\n"),
    ("no key mix (10)", 'k = k + (first["k"] - k) * gk', "k = k + 0.0 * gk"),
    ("removal uses inclusive G_i in A_ak/A_ab (chunked)", "E_strict = _masked_exp(Gx[:, :, None, :] - G",
     "E_strict = _masked_exp(G[:, :, None, :] - G"),
    ("exclusive causal mask (j < p_t) + self", "visible = np.arange(P)[None, :] <= (p0 + np.arange(T))[:, None]",
     "visible = (np.arange(P)[None, :] < (p0 + np.arange(T))[:, None]) | (np.arange(P)[None, :] == 0)"),
    ("GQA scores without 1/sqrt(N)", 's = np.einsum("thn,jhn->thj", q, Kx) * cN', 's = np.einsum("thn,jhn->thj", q, Kx)'),
    ("RMSNorm eps outside the sqrt", "rho = 1.0 / np.sqrt(mu + eps)", "rho = 1.0 / (np.sqrt(mu) + eps)"),
    ("WKV state rounded to f32 between calls (D8)", "    st.position = p0 + T\n",
     "    st.wkv = {l: v.astype(np.float32).astype(F) for l, v in st.wkv.items()}\n    st.position = p0 + T\n"),
    ("read-out before the update (o from S_{t-1})",
     'o[t] = np.einsum("hij,hj->hi", S, r[t])', 'o[t] = np.einsum("hij,hj->hi", S - v[t][:, :, None] * kt[t][:, None, :], r[t])'),
    ("decay applied after the removal term in (19)",
     "S = S * d[t][:, None, :] + sa[:, :, None] * beta[t][:, None, :]",
     "S = (S + sa[:, :, None] * beta[t][:, None, :]) * d[t][:, None, :]"),
    ("k_first captured before RoPE",
     "r, k = rope(r, pos, m.theta), rope(k, pos, m.theta)", "k_pre = k\n    r, k = rope(r, pos, m.theta), rope(k, pos, m.theta)",
     'first["k"], first["v"] = k, v', 'first["k"], first["v"] = k_pre, v'),
    ("RWKV output.bias ignored (INF, D6)", 'w["output.weight"], w.get("output.bias")', 'w["output.weight"], None'),
    ("GQA o_proj.bias ignored (INF, D6)", 'w["o_proj.weight"], w.get("o_proj.bias")', 'w["o_proj.weight"], None'),
]


def load_mutant(subs):
    """hxa079_numpy with the substitutions subs = [old1, new1, old2, new2, …] applied."""
    import types
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "hxa079_numpy.py")).read()
    for old, new in zip(subs[0::2], subs[1::2]):
        if src.count(old) != 1:
            raise RuntimeError(f"mutant anchor not found exactly once: {old!r}")
        src = src.replace(old, new)
    mod = types.ModuleType("hxa079_numpy_mutant")
    sys.modules["hxa079_numpy_mutant"] = mod   # dataclasses look their module up
    exec(compile(src, "hxa079_numpy_mutant.py", "exec"), mod.__dict__)
    return mod


# ----------------------------------------------------------------------------

def rel_err(ref: np.ndarray, got: np.ndarray) -> float:
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    if ref.size == 0:
        return 0.0
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(got))):
        return float("inf") if not np.array_equal(ref, got, equal_nan=True) else 0.0
    scale = np.max(np.abs(ref))
    diff = np.max(np.abs(ref - got))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return float(diff / scale)


@dataclass
class Result:
    worst: float = 0.0
    worst_name: str = ""
    compared: int = 0
    failures: list = field(default_factory=list)

    def add(self, where: str, name: str, e: float):
        self.compared += 1
        if e > self.worst or (self.worst_name == "" and e >= self.worst):
            self.worst, self.worst_name = e, f"{name} [{where}]"
        if not e <= TOL:
            self.failures.append(f"{where}: {name} rel {e:.3e}")

    def fail(self, msg: str):
        self.failures.append(msg)


def compare_tensors(res: Result, where: str, expected: dict, dump: dict, exact_names: bool):
    """expected: canonical-ordered name → numpy value. Reports the first failing name first."""
    if exact_names:
        missing = [k for k in expected if k not in dump]
        extra = sorted(k for k in dump if k not in expected)
        if missing:
            res.fail(f"{where}: missing in Swift dump: {missing[:5]}{' …' if len(missing) > 5 else ''}")
        if extra:
            res.fail(f"{where}: unexpected in Swift dump: {extra[:5]}{' …' if len(extra) > 5 else ''}")
    for name, val in expected.items():
        if name not in dump:
            continue
        got = np.asarray(dump[name])
        val = np.asarray(val)
        if tuple(got.shape) != tuple(val.shape):
            res.fail(f"{where}: {name} shape Swift {tuple(got.shape)} vs spec {tuple(val.shape)}")
            continue
        if name == "state.position":
            if got.dtype != np.int64 or int(got[0]) != int(val[0]):
                res.fail(f"{where}: state.position Swift {got.dtype} {got.tolist()} vs {val.tolist()}")
            res.add(where, name, 0.0)
            continue
        if got.dtype != np.float64:
            res.fail(f"{where}: {name} dtype {got.dtype}, want F64")
        # Swift is the reference: relative to its magnitude
        res.add(where, name, rel_err(got, val))


class Runner:
    def __init__(self, binary: str, workdir: str, verbose: bool):
        self.bin, self.work, self.verbose = binary, workdir, verbose
        self.calls = 0
        self.reuse = False   # mutant mode: read the dumps of the main run instead of running

    def forward(self, model_dir, tokens, dump, chunk=0, state_in=None, state_out=None, checkpoints="all"):
        cmd = [self.bin, "forward", "--model", model_dir, "--tokens", ",".join(map(str, tokens)),
               "--precision", "f64", "--dump", dump, "--checkpoints", checkpoints]
        if chunk:
            cmd += ["--chunk-size", str(chunk)]
        if state_in:
            cmd += ["--state-in", state_in]
        if state_out:
            cmd += ["--state-out", state_out]
        if self.reuse and os.path.exists(dump):
            return H.read_safetensors(dump)
        self.calls += 1
        p = subprocess.run(cmd, capture_output=True, text=True)
        if self.verbose:
            print("  $", " ".join(cmd), file=sys.stderr)
        if p.returncode != 0:
            raise RuntimeError(f"hxa079 failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
        return H.read_safetensors(dump)


def random_initial_state(m: H.Model, position: int, rng) -> H.State:
    st = H.new_state(m)
    st.position = position
    for l in st.wkv:
        st.wkv[l] = rng.normal(0, 0.2, size=(m.H, m.N, m.N))
    for l in st.kcache:
        st.kcache[l] = rng.normal(0, 1.0, size=(position, m.Hkv, m.N))
        st.vcache[l] = rng.normal(0, 1.0, size=(position, m.Hkv, m.N))
    return st


def run_case(case: Case, runner: Runner, root: str) -> tuple[Result, dict]:
    res = Result()
    info = {}
    d = os.path.join(root, case.name)
    os.makedirs(d, exist_ok=True)
    mdir = write_model(os.path.join(d, "model"), case.spec)
    m = H.load_model(mdir)
    rng = np.random.default_rng(case.spec.seed + 7919)
    tokens = rng.integers(0, m.V, size=case.T).tolist()

    # initial state (possibly random, written by NumPy → read by Swift)
    if case.init_position:
        st0 = random_initial_state(m, case.init_position, rng)
        init_file = os.path.join(d, "state_init.safetensors")
        H.write_state(init_file, m, st0)
        st_rt = H.read_state(init_file, m)        # exact round trip
        for k, v in H.state_tensors(m, st0).items():
            if not np.array_equal(v, H.state_tensors(m, st_rt)[k]):
                res.fail(f"numpy state round trip not exact: {k}")
    else:
        st0, init_file = H.new_state(m), None

    def check_call(where, tok, chunk, st_in, swift_state_in, exact_names=True):
        """Runs one Swift call and one NumPy call from st_in; compares dump and state-out."""
        dump = os.path.join(d, f"{where}.dump.safetensors")
        sout = os.path.join(d, f"{where}.state.safetensors")
        got = runner.forward(mdir, tok, dump, chunk=chunk, state_in=swift_state_in, state_out=sout)
        _, cps, st = H.forward(m, tok, st_in, chunk_size=chunk)
        expected = {**cps, **H.state_tensors(m, st)}
        compare_tensors(res, where, expected, got, exact_names)
        # the --state-out file: same tensors as §4.4, readable by the NumPy reader
        try:
            st_sw = H.read_state(sout, m)
        except Exception as e:  # noqa: BLE001
            res.fail(f"{where}: state file unreadable per SPEC §4.4: {e}")
        else:
            if st_sw.position != st.position:
                res.fail(f"{where}: state-out position {st_sw.position} vs {st.position}")
            for k, v in H.state_tensors(m, st).items():
                if k != "state.position":
                    res.add(where + "/state-out", k, rel_err(H.state_tensors(m, st_sw)[k], v))
        return st, sout, got

    # 1. recurrent, several calls, continued through Swift's own state files
    bounds, c0 = [], 0
    for n in case.splits:
        bounds.append((c0, c0 + n)); c0 += n
    bounds.append((c0, case.T))
    st, sw_state = st0, init_file
    rec_dumps = []
    for ci, (a, b) in enumerate(bounds):
        st, sw_state, got = check_call(f"rec.call{ci}", tokens[a:b], 0, st, sw_state)
        rec_dumps.append(got)
    st_rec_final = st

    # 1b. the same tokens in one call: SPEC §4.5 split invariance of the Swift
    # reference (bitwise), and one more comparison with NumPy
    _, _, whole = check_call("rec.whole", tokens, 0, st0, init_file)
    for name, val in whole.items():
        if name.startswith("state."):
            same = np.array_equal(val, rec_dumps[-1].get(name))
        else:
            same = np.array_equal(val, np.concatenate([dd[name] for dd in rec_dumps], axis=0))
        if not same:
            res.fail(f"split invariance (SPEC §4.5): {name} differs between one call and calls {case.splits}+rest")
            break

    # 2. chunked, two calls; the second continues from a NumPy-written state file
    has_rwkv = m.l_first is not None
    Tc1 = case.T - case.chunk_split
    for L in case.chunk_sizes:
        Lc = L if L is not None else case.T + 5
        st1, _, _ = check_call(f"chunk{Lc}.call0", tokens[:Tc1], Lc, st0, init_file)
        np_state = os.path.join(d, f"chunk{Lc}.numpy_state.safetensors")
        H.write_state(np_state, m, st1)
        st2, _, _ = check_call(f"chunk{Lc}.call1", tokens[Tc1:], Lc, st1, np_state)
        # NumPy self-consistency: chunked vs recurrent (both NumPy), final state
        if has_rwkv:
            e = max(rel_err(st_rec_final.wkv[l], st2.wkv[l]) for l in st2.wkv)
            info["np_chunk_vs_rec"] = max(info.get("np_chunk_vs_rec", 0.0), e)

    # 3. default checkpoint selection: exactly logits + layers.*.out
    dump = os.path.join(d, "default.dump.safetensors")
    got = runner.forward(mdir, tokens[:3], dump, state_in=init_file, checkpoints="default")
    want = {"logits"} | {f"layers.{l}.out" for l in range(m.L)}
    if set(got) != want:
        res.fail(f"default dump names {sorted(set(got) ^ want)} differ from logits + layers.*.out")

    # 4. NumPy-only property test (49) on one head of the first RWKV layer
    if has_rwkv:
        _, cps, _ = H.forward(m, tokens[:8], st0)
        p = f"layers.{m.l_first}.rwkv."
        kk, a, w = cps[p + "kk"][:, 0], cps[p + "a"][:, 0], cps[p + "w"][:, 0]
        info["wy49"] = H.wy_transition_check(-kk, kk * a, -np.exp(w))
    return res, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("HXA079_BIN"), help="hxa079 executable")
    ap.add_argument("--workdir", help="where models and dumps go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--only", help="comma-separated case names")
    ap.add_argument("--mutants", action="store_true",
                    help="afterwards, check that known-wrong NumPy variants are detected against the Swift dumps")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if not a.bin:
        sys.exit("need --bin or HXA079_BIN")
    root = a.workdir or tempfile.mkdtemp(prefix="hxa079-indep-")
    os.makedirs(root, exist_ok=True)
    runner = Runner(os.path.abspath(a.bin), root, a.verbose)
    cases = [c for c in CASES if not a.only or c.name in a.only.split(",")]

    t0 = time.time()
    rows, failed = [], []
    for case in cases:
        t1 = time.time()
        calls0 = runner.calls
        try:
            res, info = run_case(case, runner, root)
        except Exception as e:  # noqa: BLE001
            res, info = Result(), {}
            res.fail(f"exception: {e}")
        ok = not res.failures
        rows.append((case.name, case.note, case.spec.dtype, runner.calls - calls0, res.compared,
                     res.worst, res.worst_name, info, ok, time.time() - t1))
        if not ok:
            failed.append((case, res))
        print(f"{case.name}: {'ok' if ok else 'FAIL'}  worst {res.worst:.2e} ({res.worst_name})  "
              f"[{time.time() - t1:.1f}s]", flush=True)

    print()
    hdr = f"{'case':4s} {'dtype':5s} {'calls':>5s} {'cmp':>5s} {'worst rel':>10s} {'np chk/rec':>10s} {'(49)':>8s}  status  worst checkpoint / configuration"
    print(hdr)
    print("-" * len(hdr))
    for name, note, dt, calls, cmp_, worst, wname, info, ok, _ in rows:
        cr = f"{info['np_chunk_vs_rec']:.1e}" if "np_chunk_vs_rec" in info else "-"
        wy = f"{info['wy49']:.1e}" if "wy49" in info else "-"
        print(f"{name:4s} {dt:5s} {calls:5d} {cmp_:5d} {worst:10.2e} {cr:>10s} {wy:>8s}  {'ok' if ok else 'FAIL':6s}  {wname}")
        print(f"{'':44s}  {note}")
    print(f"\ntolerance {TOL:g} (max|Δ|/max|Swift|); {runner.calls} hxa079 calls; {time.time() - t0:.1f}s total")
    if a.mutants:
        global H
        good = H
        runner.reuse = True
        undetected = 0
        print("\nmutants (known-wrong NumPy variants vs the Swift dumps; each must be detected):")
        for label, *subs in MUTANTS:
            H = load_mutant(subs)
            hit = None
            for case in cases:
                try:
                    res, _ = run_case(case, runner, root)
                except Exception as e:  # noqa: BLE001
                    res = Result(); res.fail(f"exception: {e}")
                if res.failures:
                    hit = (case.name, res.failures[0])
                    break
            H = good
            if hit:
                print(f"  detected      {label:48s} by {hit[0]}: {hit[1][:90]}")
            else:
                undetected += 1
                print(f"  NOT DETECTED  {label}")
        runner.reuse = False
        if undetected:
            failed.append((Case("mutants", RandomModelSpec(), note="mutation test"),
                           Result(failures=[f"{undetected} mutant(s) not detected"])))
    if not a.keep and not a.workdir:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"work directory: {root}")
    if failed:
        print("\nFAILURES:")
        for case, res in failed:
            print(f"  {case.name} ({case.note}):")
            for f_ in res.failures[:10]:
                print(f"    {f_}")
            if len(res.failures) > 10:
                print(f"    … {len(res.failures) - 10} more")
        first_case, first_res = failed[0]
        print(f"\nfirst failure: {first_case.name}: {first_res.failures[0]}")
        sys.exit(1)
    print("all configurations agree")


if __name__ == "__main__":
    main()
