"""Independent emulated low-precision (bf16 / f16) engine of the hxa079 model.

Contract
    An engine that stores like RWKV-Infer (SPEC.md §4.7, the `bf16` and `f16`
    precision profiles) but computes in its own way: every operation in
    float32 NumPy (BLAS sgemm matrix products, NumPy's pairwise f32 sums: a
    different summation order from the Swift reference's left-to-right one —
    that is the point), and each value rounded to the storage format 𝕊
    (round to nearest, ties to even; f16 overflows to ±inf and goes through
    its subnormals) at exactly the storage points of §4.7 and nowhere else:

      W  every weight, once at load;
      1  every checkpoint of §4.3 as it is produced (later stages read the
         rounded value), which includes
      2  the residual stream (`mixer_residual`, `out`);
      3  each entry of the RoPE cos/sin table (the angle p·inv_freq in f32);
      4  g = −exp(w), α and β before the WKV (the kernel computes exp(g) in f32;
         the `decay` checkpoint is exp(g) rounded);
      5  the WKV state at the end of each call (`--state-per-token`: after
         every token instead, the honest variant (c) of §4.7);
      6  the KV cache rows, which are the rounded `gqa.k`, `gqa.v`.

    RMSNorm (γ applied before the rounding), softmax and the attention sums,
    the WKV recurrence inside a call (or its chunked form, `--chunk-size`),
    the L2 norm of (12) and every accumulation stay float32.
    `--format f32` rounds nowhere: a plain float32 engine, used as the
    self-check against the float64 NumPy implementation (hxa079_numpy.py).

    Model loading, safetensors and state-file I/O are imported from
    hxa079_numpy.py (float64 loader; BF16/F16/F32 weights widen exactly, then
    are narrowed here to f32 and to 𝕊). Nothing here is shared with the Swift
    sources; the forward is written from SPEC.md §3, §4.2 and §4.7.

    Planted mistakes (`--plant NAME`, SPEC §4.6 "Mutants"; the same wrong
    function as Sources/Hxa079Reference/Mutants.swift), run inside this
    engine's own low-precision arithmetic:
      removal_from_decayed_state  sa read from S·diag(d): S ← Sd + (Sd·α)βᵀ + v k̃ᵀ
      readout_from_old_state      o = S_{t−1}·r instead of S_t·r
      wkv_scale_missing           y = o + bonus (no N^−½)
      k_scaled_with_decay         k̃ = k̄ ⊙ (1 − d + a) (the rounded decay)
      k_first_before_rope         k_first captured before RoPE
      kv_heads_tiled              KV head h mod Hkv instead of ⌊h/G⌋ (RWKV and GQA)
      rope_in_gqa                 RoPE on q and k in the GQA layers
      transposed_state            the carried WKV state read [key][value]

CLI (one line on stderr and a non-zero exit for bad input)
    python hxa079_lowp.py --model DIR (--tokens 1,2,3 | --tokens-file F)
        [--format bf16|f16|f32] [--calls 10,10] [--chunk-size L | --chunk-sizes 4,0]
        [--state-per-token] [--plant NAME] [--state-in F] [--state-out F]
        [--dump FILE] [--dump-dtype storage|f32]

    --calls splits the tokens into calls carrying the state (rounded at each
    call end, as a state file round trip would: the state file holds the
    rounded values, so writing and reading it back is exact). The dump holds
    every checkpoint of §4.3 concatenated over the calls (the layout of a
    fixture plan) and the §4.4 state tensors after the last call, as BF16
    (`--format bf16`), F16 (`f16`) or F32 (`f32`, or `--dump-dtype f32`).

Python API
    eng = LowpModel(load_model(dir), fmt="bf16")
    logits, cps, state = forward(eng, tokens, state=None, chunk_size=0,
                                 state_per_token=False, plant=None)
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hxa079_numpy import (  # noqa: E402  (float64 loader and file I/O, reused as is)
    Model, State, load_model, new_state, read_state, state_tensors, write_safetensors,
)

f32 = np.float32
FORMATS = ("bf16", "f16", "f32")
PLANTS = ("removal_from_decayed_state", "readout_from_old_state", "wkv_scale_missing",
          "k_scaled_with_decay", "k_first_before_rope", "kv_heads_tiled", "rope_in_gqa",
          "transposed_state")


# ----------------------------------------------------------------------------
# Rounding to the storage format 𝕊
# ----------------------------------------------------------------------------

def bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 → bfloat16 bit patterns (uint16), round to nearest even; overflow
    gives ±inf by the carry into the exponent; NaN stays a (quiet) NaN."""
    x = np.ascontiguousarray(x, dtype=f32)
    u = x.view(np.uint32)
    r = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    r = np.where(np.isnan(x), (u >> np.uint32(16)) | np.uint32(0x40), r)
    return r.astype(np.uint16)


def round_bf16(x: np.ndarray) -> np.ndarray:
    return (bf16_bits(x).astype(np.uint32) << np.uint32(16)).view(f32)


def round_f16(x: np.ndarray) -> np.ndarray:
    # NumPy's float32 → float16 cast rounds to nearest even, keeps subnormals and
    # gives ±inf at |x| ≥ 65520 (its overflow warning is the expected behaviour).
    with np.errstate(over="ignore"):
        return np.asarray(x, dtype=f32).astype(np.float16).astype(f32)


class Store:
    """The storage rounding of one format: store(x) is x as 𝕊 holds it, in f32."""

    def __init__(self, fmt: str):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (want one of {', '.join(FORMATS)})")
        self.fmt = fmt
        self._round = {"bf16": round_bf16, "f16": round_f16, "f32": lambda x: np.asarray(x, f32)}[fmt]

    def __call__(self, x):
        return self._round(np.asarray(x, dtype=f32))


# ----------------------------------------------------------------------------
# The model in f32, weights rounded to 𝕊 once (storage point W)
# ----------------------------------------------------------------------------

class LowpModel:
    def __init__(self, m: Model, fmt: str):
        self.m, self.fmt, self.store = m, fmt, Store(fmt)
        S = self.store
        # f64 (exact widening of the stored BF16/F16/F32) → f32 → 𝕊. For BF16 weights
        # under bf16 this is the identity.
        conv = lambda a: S(np.asarray(a, dtype=f32))
        self.emb, self.final_norm, self.head = conv(m.emb), conv(m.final_norm), conv(m.head)
        self.layers = [{k: conv(v) for k, v in w.items()} for w in m.layers]
        self.eps = f32(m.eps)
        self.cN = f32(1.0 / math.sqrt(m.N))                          # (21a), binary64 then → f32
        if m.theta is not None:
            half = m.N // 2
            e = (f32(2) * np.arange(half, dtype=f32)) / f32(m.N)     # (3a) e_j in f32
            self.inv_freq = (f32(1) / np.power(f32(m.theta), e)).astype(f32)


# ----------------------------------------------------------------------------
# Elementary pieces in f32
# ----------------------------------------------------------------------------

def sigmoid(z):
    return f32(1) / (f32(1) + np.exp(-z))


def softplus(z):
    return np.maximum(z, f32(0)) + np.log1p(np.exp(-np.abs(z)))


def silu(z):
    return z / (f32(1) + np.exp(-z))


def rmsnorm(x, gamma, eps):
    """(2a) in f32 along the last axis, γ applied before any storage rounding."""
    mu = np.mean(x * x, axis=-1, keepdims=True, dtype=f32)
    rho = f32(1) / np.sqrt(mu + eps)
    return gamma * (x * rho)


def linear(x, W, b=None):
    y = x @ W.T
    return y if b is None else y + b


def rope(e: LowpModel, x, pos):
    """(3b), (4) with the cos/sin entries rounded to 𝕊 (storage point 3)."""
    half = x.shape[-1] // 2
    phi = pos.astype(f32)[:, None] * e.inv_freq[None, :]
    cos, sin = e.store(np.cos(phi))[:, None, :], e.store(np.sin(phi))[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


# ----------------------------------------------------------------------------
# WKV in f32: recurrent (18)–(20), chunked (40)–(48)
# ----------------------------------------------------------------------------

def wkv_recurrent(S0, r, kt, v, alpha, beta, g, store, per_token=False, plant=None):
    """All heads at once; S0 [H, Nv, Nk] f32, inputs [T, H, N]. The kernel's decay
    is exp(g) in f32. per_token: the state is rounded to 𝕊 after every token."""
    S = S0.copy()
    o = np.empty_like(r)
    for t in range(r.shape[0]):
        d = np.exp(g[t])[:, None, :]
        if plant == "readout_from_old_state":
            o[t] = np.einsum("hij,hj->hi", S, r[t])                    # MUTANT: old state
        if plant == "removal_from_decayed_state":
            Sd = S * d
            sa = np.einsum("hij,hj->hi", Sd, alpha[t])                 # MUTANT: from S·diag(d)
            S = Sd + sa[:, :, None] * beta[t][:, None, :] + v[t][:, :, None] * kt[t][:, None, :]
        else:
            sa = np.einsum("hij,hj->hi", S, alpha[t])                  # (18) old state
            S = S * d + sa[:, :, None] * beta[t][:, None, :] + v[t][:, :, None] * kt[t][:, None, :]  # (19)
        if per_token:
            S = store(S)
        if plant != "readout_from_old_state":
            o[t] = np.einsum("hij,hj->hi", S, r[t])                    # (20) new state
    return o, S


def wkv_chunk(S0, r, kt, v, alpha, beta, g):
    """One chunk of §3.7 in f32, all heads; inputs [n, H, N]; returns O [n, H, N], S_n."""
    r, kt, v, alpha, beta, g = (np.swapaxes(a, 0, 1) for a in (r, kt, v, alpha, beta, g))
    Hh, n, N = r.shape
    G = np.cumsum(g, axis=1, dtype=f32)                                 # (40) inclusive
    Gx = np.concatenate([np.zeros((Hh, 1, N), f32), G[:, :-1]], axis=1)  # exclusive G_{i−1}
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    incl, strict = (jj <= ii)[None, :, :, None], (jj < ii)[None, :, :, None]
    ninf = f32(-np.inf)
    E_incl = np.exp(np.where(incl, G[:, :, None, :] - G[:, None, :, :], ninf))     # (47) masked before exp
    E_strict = np.exp(np.where(strict, Gx[:, :, None, :] - G[:, None, :, :], ninf))
    A_qk = np.einsum("hik,hjk,hijk->hij", r, kt, E_incl)               # (41)
    A_qb = np.einsum("hik,hjk,hijk->hij", r, beta, E_incl)             # (42)
    A_ak = np.einsum("hik,hjk,hijk->hij", alpha, kt, E_strict)         # (43)
    A_ab = np.einsum("hik,hjk,hijk->hij", alpha, beta, E_strict)       # (43a)
    S0T = np.swapaxes(S0, 1, 2)
    R = A_ak @ v + (alpha * np.exp(Gx)) @ S0T                           # (44) right-hand side
    Sa = np.zeros_like(R)
    for i in range(n):                                                  # forward substitution
        Sa[:, i] = R[:, i] + np.einsum("hj,hjn->hn", A_ab[:, i, :i], Sa[:, :i])
    O = (r * np.exp(G)) @ S0T + A_qk @ v + A_qb @ Sa                   # (45)
    to_end = np.exp(G[:, -1:, :] - G)
    Sn = S0 * np.exp(G[:, -1, :])[:, None, :] + np.swapaxes(v, 1, 2) @ (kt * to_end) \
        + np.swapaxes(Sa, 1, 2) @ (beta * to_end)                       # (46)
    return np.swapaxes(O, 0, 1), Sn


def wkv_chunked(S0, r, kt, v, alpha, beta, g, L):
    outs, S = [], S0
    for c0 in range(0, r.shape[0], L):                                  # (48)
        sl = slice(c0, c0 + L)
        O, S = wkv_chunk(S, r[sl], kt[sl], v[sl], alpha[sl], beta[sl], g[sl])
        outs.append(O)
    return np.concatenate(outs, axis=0), S


# ----------------------------------------------------------------------------
# Mixers and forward (§3.3–§3.5, §4.2), storage points marked S(…)
# ----------------------------------------------------------------------------

def _heads(m: Model, plant):
    """(11): the KV head of each of the H heads."""
    h = np.arange(m.H)
    return h % m.Hkv if plant == "kv_heads_tiled" else h // m.G


def rwkv_mixer(e: LowpModel, l, xh, pos, S0, first, cps, chunk_size, per_token, plant):
    m, w, S = e.m, e.layers[l], e.store
    T, H, N, Hkv = xh.shape[0], m.H, m.N, m.Hkv
    pre = f"layers.{l}.rwkv."
    r = linear(xh, w["receptance.weight"], w.get("receptance.bias")).reshape(T, H, N)   # (5)
    k = linear(xh, w["key.weight"], w.get("key.bias")).reshape(T, Hkv, N)
    v = linear(xh, w["value.weight"], w.get("value.bias")).reshape(T, Hkv, N)
    if "r_norm.weight" in w:
        r = rmsnorm(r, w["r_norm.weight"], e.eps)                                        # (6)
    if "k_norm.weight" in w:
        k = rmsnorm(k, w["k_norm.weight"], e.eps)
    k_pre_rope = S(k)
    r, k, v = S(rope(e, r, pos)), S(rope(e, k, pos)), S(v)                               # (7)
    cps[pre + "r"], cps[pre + "k"], cps[pre + "v"] = r, k, v
    if l == m.l_first:                                                                   # (8)
        first["k"], first["v"] = (k_pre_rope if plant == "k_first_before_rope" else k), v
    else:
        gv = sigmoid(w["v0"].reshape(-1) + (xh @ w["v1"]) @ w["v2"]).reshape(T, Hkv, N)
        gk = sigmoid(w["k0"].reshape(-1) + (xh @ w["k1"]) @ w["k2"]).reshape(T, Hkv, N)
        v = S(v + (first["v"] - v) * gv)                                                 # (9)
        k = S(k + (first["k"] - k) * gk)                                                 # (10)
    cps[pre + "k_mixed"], cps[pre + "v_mixed"] = k, v
    heads = _heads(m, plant)
    kbar, vbar = k[:, heads, :], v[:, heads, :]                                          # (11)
    norm = np.sqrt(np.sum(kbar * kbar, axis=-1, keepdims=True, dtype=f32))
    kk = S(kbar / np.maximum(norm, f32(1e-12)))                                          # (12)
    a = S(sigmoid(w["a0"].reshape(-1) + (xh @ w["a1"]) @ w["a2"]).reshape(T, H, N))      # (13)
    omega = w["w0"].reshape(-1) + np.tanh(xh @ w["w1"]) @ w["w2"]
    ww = S((-softplus(-omega) - f32(0.5)).reshape(T, H, N))                              # (14)
    g = S(-np.exp(ww))                                                                   # (17a), point 4
    d = S(np.exp(g))                                                                     # (17)
    if plant == "k_scaled_with_decay":
        kt = S(kbar * ((f32(1) - d) + a))                                                # MUTANT: decay for w
    else:
        kt = S(kbar * ((f32(1) - ww) + a))                                               # (15), pre-exp w
    alpha, beta = S(-kk), S(kk * a)                                                      # (16), point 4
    cps[pre + "w"], cps[pre + "a"], cps[pre + "kk"] = ww, a, kk
    cps[pre + "k_scaled"], cps[pre + "decay"] = kt, d
    if plant == "transposed_state":
        S0 = np.ascontiguousarray(np.swapaxes(S0, 1, 2))                                 # MUTANT
    if chunk_size > 0:
        o, Sn = wkv_chunked(S0, r, kt, vbar, alpha, beta, g, chunk_size)
    else:
        o, Sn = wkv_recurrent(S0, r, kt, vbar, alpha, beta, g, S, per_token, plant)
    Sn = S(Sn)                                                                           # point 5
    o = S(o)
    cps[pre + "wkv"] = o
    y = o if plant == "wkv_scale_missing" else o * e.cN                                  # (21)
    b = np.sum((r * kt) * w["r_k"][None], axis=-1, keepdims=True, dtype=f32)            # (22)
    bonus = S(b * vbar)
    cps[pre + "bonus"] = bonus
    y = y + bonus
    gate = S((sigmoid(xh @ w["g1"]) @ w["g2"]).reshape(T, H, N))                         # (23)
    cps[pre + "gate"] = gate
    out = S(linear((y * gate).reshape(T, H * N), w["output.weight"], w.get("output.bias")))  # (24)
    cps[pre + "mixer_out"] = out
    return out, Sn


def gqa_mixer(e: LowpModel, l, xh, pos, Kc, Vc, cps, plant):
    m, w, S = e.m, e.layers[l], e.store
    T, H, N, Hkv = xh.shape[0], m.H, m.N, m.Hkv
    pre = f"layers.{l}.gqa."
    q = linear(xh, w["q_proj.weight"], w.get("q_proj.bias")).reshape(T, H, N)          # (25)
    k = linear(xh, w["k_proj.weight"], w.get("k_proj.bias")).reshape(T, Hkv, N)
    v = linear(xh, w["v_proj.weight"], w.get("v_proj.bias")).reshape(T, Hkv, N)
    if "q_norm.weight" in w:
        q = rmsnorm(q, w["q_norm.weight"], e.eps)                                        # (26)
    if "k_norm.weight" in w:
        k = rmsnorm(k, w["k_norm.weight"], e.eps)
    if plant == "rope_in_gqa":
        q, k = rope(e, q, pos), rope(e, k, pos)                                          # MUTANT
    q, k, v = S(q), S(k), S(v)                                                           # point 6: the cache rows
    cps[pre + "q"], cps[pre + "k"], cps[pre + "v"] = q, k, v
    K, Vv = np.concatenate([Kc, k], axis=0), np.concatenate([Vc, v], axis=0)             # (27)
    heads = _heads(m, plant)
    Kx, Vx = K[:, heads, :], Vv[:, heads, :]
    s = np.einsum("thn,jhn->thj", q, Kx) * e.cN                                          # (28)
    visible = np.arange(K.shape[0])[None, :] <= pos[:, None]
    s = np.where(visible[:, None, :], s, f32(-np.inf))
    ex = np.exp(s - np.max(s, axis=-1, keepdims=True))                                   # (29) f32
    pi = ex / np.sum(ex, axis=-1, keepdims=True, dtype=f32)
    o = S(np.einsum("thj,jhn->thn", pi, Vx))                                             # (30)
    cps[pre + "attn"] = o
    out = S(linear(o.reshape(T, H * N), w["o_proj.weight"], w.get("o_proj.bias")))      # (31)
    cps[pre + "mixer_out"] = out
    return out, K, Vv


def mlp(w, u):
    """(32) in f32; only the result is a storage point."""
    zg = linear(u, w["mlp.gate_proj.weight"], w.get("mlp.gate_proj.bias"))
    zu = linear(u, w["mlp.up_proj.weight"], w.get("mlp.up_proj.bias"))
    return linear(silu(zg) * zu, w["mlp.down_proj.weight"], w.get("mlp.down_proj.bias"))


def to_engine_state(e: LowpModel, s: State) -> State:
    """A state (e.g. read from a file, float64) as this engine stores it: f32 values in 𝕊."""
    return State(s.position, {l: e.store(a) for l, a in s.wkv.items()},
                 {l: e.store(a) for l, a in s.kcache.items()},
                 {l: e.store(a) for l, a in s.vcache.items()})


def forward(e: LowpModel, tokens, state: State | None = None, chunk_size: int = 0,
            state_per_token: bool = False, plant: str | None = None):
    """One call (§4.1, §4.2). Returns (logits [T, V], checkpoints, new state); the
    input state is not modified."""
    m, S = e.m, e.store
    if plant is not None and plant not in PLANTS:
        raise ValueError(f"unknown plant {plant!r} (want one of {', '.join(PLANTS)})")
    if state_per_token and chunk_size > 0:
        raise ValueError("--state-per-token needs the recurrent WKV (chunk size 0)")
    if plant in ("removal_from_decayed_state", "readout_from_old_state") and chunk_size > 0:
        raise ValueError(f"plant {plant} runs the recurrent WKV only (chunk size 0)")
    tokens = np.asarray(tokens, dtype=np.int64)
    T = len(tokens)
    if T < 1 or np.any((tokens < 0) | (tokens >= m.V)):
        raise ValueError(f"tokens must be 1 or more ids in [0, {m.V})")
    st = to_engine_state(e, state or new_state(m))
    pos = st.position + np.arange(T)
    cps = {}
    x = S(e.emb[tokens])                                                  # (1)
    cps["embed"] = x
    first = {}
    for l, kind in enumerate(m.kinds):
        w = e.layers[l]
        xh = S(rmsnorm(x, w["input_layernorm.weight"], e.eps))           # (5)/(25)
        cps[f"layers.{l}.norm1"] = xh
        if kind == "rwkv":
            out, st.wkv[l] = rwkv_mixer(e, l, xh, pos, st.wkv[l], first, cps, chunk_size,
                                        state_per_token, plant)
        else:
            out, st.kcache[l], st.vcache[l] = gqa_mixer(e, l, xh, pos, st.kcache[l], st.vcache[l],
                                                        cps, plant)
        h = S(x + out)                                                    # (33)
        cps[f"layers.{l}.mixer_residual"] = h
        n2 = S(rmsnorm(h, w["post_attention_layernorm.weight"], e.eps))
        cps[f"layers.{l}.norm2"] = n2
        mo = S(mlp(w, n2))                                                # (32)
        cps[f"layers.{l}.mlp_out"] = mo
        x = S(h + mo)                                                     # (34)
        cps[f"layers.{l}.out"] = x
    xL = S(rmsnorm(x, e.final_norm, e.eps))                               # (35)
    cps["final_norm"] = xL
    logits = S(xL @ e.head.T)                                             # (36)
    cps["logits"] = logits
    st.position += T
    return logits, cps, st


def run_calls(e: LowpModel, tokens, calls, chunk_sizes, state=None, state_per_token=False, plant=None):
    """A plan: the tokens as consecutive calls carrying the (rounded) state; the
    checkpoints concatenated along the token axis (the fixture layout)."""
    if sum(calls) != len(tokens) or any(c < 1 for c in calls):
        raise ValueError(f"--calls {calls} must be positive and sum to the {len(tokens)} tokens")
    if len(chunk_sizes) != len(calls):
        raise ValueError(f"{len(chunk_sizes)} chunk sizes for {len(calls)} calls")
    st, parts, c0 = state, [], 0
    for n, L in zip(calls, chunk_sizes):
        _, cps, st = forward(e, tokens[c0:c0 + n], st, L, state_per_token, plant)
        parts.append(cps)
        c0 += n
    cps = {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}
    return cps["logits"], cps, st


# ----------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------

def encode(tensors: dict, dtype: str):
    """Float tensors → (arrays, names tagged BF16) for write_safetensors in `dtype`
    (bf16 | f16 | f32); integer tensors (state.position) pass through."""
    arrays, bf16 = {}, set()
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if a.dtype.kind != "f":
            arrays[name] = a
        elif dtype == "bf16":
            arrays[name] = bf16_bits(a)
            bf16.add(name)
        elif dtype == "f16":
            with np.errstate(over="ignore"):
                arrays[name] = a.astype(f32).astype(np.float16)
        else:
            arrays[name] = a.astype(f32)
    return arrays, bf16


def write_tensors(path, tensors, dtype, metadata=None):
    arrays, bf16 = encode(tensors, dtype)
    write_safetensors(path, arrays, bf16=bf16, metadata=metadata)


def parse_ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise ValueError(f"{what}: not a list of integers: {text.strip()[:60]!r}")
    if not vals:
        raise ValueError(f"{what}: empty list")
    return vals


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="emulated bf16/f16 hxa079 engine (SPEC §4.7 storage model)")
    ap.add_argument("--model", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", help="comma-separated token ids")
    src.add_argument("--tokens-file", help="file of token ids (commas or whitespace)")
    ap.add_argument("--format", default="bf16", choices=FORMATS)
    ap.add_argument("--calls", help="tokens per call, e.g. 10,10 (default: one call)")
    ap.add_argument("--chunk-size", type=int, default=0, help="chunked WKV chunk length for every call (0 = recurrent)")
    ap.add_argument("--chunk-sizes", help="per call chunk length, e.g. 4,0,0,0")
    ap.add_argument("--state-per-token", action="store_true", help="round the WKV state after every token")
    ap.add_argument("--plant", choices=PLANTS, help="plant a known mistake")
    ap.add_argument("--state-in")
    ap.add_argument("--state-out")
    ap.add_argument("--dump")
    ap.add_argument("--dump-dtype", default="storage", choices=("storage", "f32"),
                    help="dtype of the dump and state file: the storage format (default) or F32")
    a = ap.parse_args(argv)
    try:
        text = a.tokens if a.tokens is not None else open(a.tokens_file).read()
        tokens = parse_ints(text, "tokens")
        calls = parse_ints(a.calls, "--calls") if a.calls else [len(tokens)]
        if a.chunk_sizes:
            chunks = parse_ints(a.chunk_sizes, "--chunk-sizes")
        else:
            chunks = [a.chunk_size] * len(calls)
        if any(c < 0 for c in chunks):
            raise ValueError("chunk sizes must be ≥ 0")
        e = LowpModel(load_model(a.model), a.format)
        s0 = read_state(a.state_in, e.m) if a.state_in else None
        logits, cps, s1 = run_calls(e, np.asarray(tokens, np.int64), calls, chunks, s0,
                                    a.state_per_token, a.plant)
        dt = "f32" if a.dump_dtype == "f32" else a.format
        meta = {"engine": "hxa079_lowp.py", "format": a.format, "plant": a.plant or "none",
                "state_per_token": str(a.state_per_token), "calls": ",".join(map(str, calls)),
                "chunk_sizes": ",".join(map(str, chunks))}
        if a.dump:
            write_tensors(a.dump, {**cps, **state_tensors(e.m, s1)}, dt, meta)
        if a.state_out:
            write_tensors(a.state_out, state_tensors(e.m, s1), dt)
    except (ValueError, OSError, KeyError, AssertionError) as err:
        print(f"hxa079_lowp: {err}", file=sys.stderr)
        return 1
    p0 = s0.position if s0 else 0
    print(f"hxa079_lowp {a.format}{' plant ' + a.plant if a.plant else ''}: {len(tokens)} tokens at "
          f"{p0}..<{s1.position} in {len(calls)} call(s); last argmax {int(np.argmax(logits[-1]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
