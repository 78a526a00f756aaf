"""Independent float64 NumPy implementation of the hxa079 model (SPEC.md).

Written from SPEC.md alone (not from the Swift sources) as an oracle for the
Swift reference. Everything is computed in binary64 and vectorised over tokens
and heads wherever the mathematics allows; only the WKV recurrence (18)–(20)
loops over time, and the chunked WKV (40)–(49) loops over chunks.

Public API
    model = load_model(dir)                      # config.json + safetensors
    state = new_state(model)                     # (37) initial state
    logits, cps, state2 = forward(model, tokens, state, chunk_size=0)
    write_state(path, model, state) / read_state(path, model)

`cps` is a dict holding every checkpoint of SPEC §4.3 under its exact name
(`embed`, `layers.{i}.norm1`, …, `logits`); `state_tensors(model, state)` gives
the §4.4 tensors (`state.position`, `state.layers.{i}.wkv`, …).

Floating-point order: NumPy/BLAS sums are not left-to-right (SPEC §0.7 rule 2);
this implementation matches the reference only to rounding level, which is the
point of an independent check (tolerance ~1e-10 relative in binary64).
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field

import numpy as np

F = np.float64

# ----------------------------------------------------------------------------
# safetensors reading / writing
# ----------------------------------------------------------------------------

_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8,
    "BOOL": np.bool_,
}


def bf16_bits_to_f64(bits: np.ndarray) -> np.ndarray:
    """BF16 bit patterns (uint16) → exact binary64 (SPEC §0.7 rule 6)."""
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(F)


def _read_header(path: str):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Reads a safetensors file. Uses `safetensors.numpy` unless the file holds
    BF16 tensors (NumPy has no bfloat16); those are decoded by hand, every
    float tensor converted exactly to float64."""
    header, base = _read_header(path)
    header.pop("__metadata__", None)
    if all(v["dtype"] != "BF16" for v in header.values()):
        from safetensors.numpy import load_file
        return dict(load_file(path))
    raw = np.fromfile(path, dtype=np.uint8)
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        buf = raw[base + a: base + b]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            out[name] = bf16_bits_to_f64(buf.view("<u2")).reshape(shape)
        else:
            out[name] = buf.view(np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<")).reshape(shape).copy()
    return out


def write_safetensors(path: str, tensors: dict[str, np.ndarray], bf16: set[str] = frozenset(),
                      metadata: dict | None = None) -> None:
    """Writes a safetensors file by hand. Arrays whose name is in `bf16` must be
    uint16 arrays of BF16 bit patterns and are tagged dtype BF16."""
    rev = {np.dtype(v): k for k, v in _ST_DTYPES.items()}
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = "BF16" if name in bf16 else rev[arr.dtype.newbyteorder("=")]
        data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------
# Model loading (SPEC §1, §2)
# ----------------------------------------------------------------------------

@dataclass
class Model:
    C: int
    H: int
    N: int
    Hkv: int
    I: int
    V: int
    L: int
    eps: float
    theta: float | None
    kinds: list            # "rwkv" | "gqa" per layer
    l_first: int | None    # first RWKV layer (SPEC (8), decision D5)
    emb: np.ndarray
    final_norm: np.ndarray
    head: np.ndarray
    layers: list = field(default_factory=list)   # dict of float64 arrays per layer

    @property
    def G(self):
        return self.H // self.Hkv


def _rwkv_style_to_hf(name: str, kinds_hint: dict) -> str:
    """RWKV-style tensor names (SPEC §2.2) → HF-style."""
    glob = {"emb.weight": "model.embed_tokens.weight", "ln_out.weight": "model.norm.weight",
            "head.weight": "lm_head.weight"}
    if name in glob:
        return glob[name]
    parts = name.split(".")
    if parts[0] != "blocks":
        raise ValueError(f"unknown tensor {name}")
    i, rest = parts[1], parts[2:]
    pre = f"model.layers.{i}."
    if rest[0] in ("ln1", "ln2"):
        return pre + {"ln1": "input_layernorm", "ln2": "post_attention_layernorm"}[rest[0]] + "." + ".".join(rest[1:])
    if rest[0] == "ffn":
        return pre + "mlp." + {"gate": "gate_proj", "up": "up_proj", "down": "down_proj"}[rest[1]] + "." + ".".join(rest[2:])
    if rest[0] == "att":
        leaf = rest[1:]
        if leaf[0] == "ln_r":
            leaf = ["q_norm" if kinds_hint[int(i)] == "gqa" else "r_norm"] + leaf[1:]
        elif leaf[0] == "ln_k":
            leaf = ["k_norm"] + leaf[1:]
        return pre + "self_attn." + ".".join(leaf)
    raise ValueError(f"unknown tensor {name}")


def _load_tensors(path: str) -> dict[str, np.ndarray]:
    single = os.path.join(path, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(path, "model.safetensors.index.json")) as f:
        wm = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(wm.values())):
        t = read_safetensors(os.path.join(path, shard))
        for k, v in t.items():
            if wm.get(k) != shard or k in out:
                raise ValueError(f"tensor {k} misplaced in shards")
            out[k] = v
    if set(out) != set(wm):
        raise ValueError("index lists tensors missing from shards")
    return out


_RWKV_LEAVES = {"receptance.weight", "key.weight", "value.weight", "output.weight",
                "receptance.bias", "key.bias", "value.bias", "output.bias",
                "w0", "w1", "w2", "a0", "a1", "a2", "v0", "v1", "v2", "k0", "k1", "k2",
                "g1", "g2", "r_k", "r_norm.weight", "k_norm.weight",
                "layer_architecture", "head_size_record"}
_GQA_LEAVES = {"q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
               "q_proj.bias", "k_proj.bias", "v_proj.bias", "o_proj.bias",
               "q_norm.weight", "k_norm.weight"}
_COMMON = {"input_layernorm.weight", "post_attention_layernorm.weight",
           "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
           "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"}


def load_model(path: str) -> Model:
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    C, H = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    N = cfg.get("head_dim")
    if N is None:
        assert C % H == 0
        N = C // H
    N = int(N)
    Hkv = int(cfg.get("num_key_value_heads") or H)
    assert H % Hkv == 0
    I, V, L = int(cfg["intermediate_size"]), int(cfg["vocab_size"]), int(cfg["num_hidden_layers"])
    assert cfg.get("rope_scaling") is None and cfg.get("hidden_act", "silu") == "silu"

    raw = _load_tensors(path)
    if ("model.embed_tokens.weight" in raw) == ("emb.weight" in raw):
        raise ValueError("naming scheme ambiguous")
    if "emb.weight" in raw:   # RWKV-style: decide layer kinds first (ln_r is ambiguous)
        hint = {int(k.split(".")[1]): "gqa" for k in raw if k.startswith("blocks.") and k.endswith("att.q_proj.weight")}
        hint = {l: hint.get(l, "rwkv") for l in range(L)}
        raw = {_rwkv_style_to_hf(k, hint): v for k, v in raw.items()}

    # layer kinds from the weights (SPEC §1.2)
    per_layer = [dict() for _ in range(L)]
    glob = {}
    for name, arr in raw.items():
        if name.startswith("model.layers."):
            parts = name.split(".")
            l = int(parts[2])
            if not 0 <= l < L:
                raise ValueError(f"layer index out of range: {name}")
            leaf = ".".join(parts[3:])
            per_layer[l][leaf] = arr
        else:
            glob[name] = arr
    kinds = []
    for l, t in enumerate(per_layer):
        q, r = "self_attn.q_proj.weight" in t, "self_attn.receptance.weight" in t
        if q == r:
            raise ValueError(f"layer {l}: cannot decide kind")
        kinds.append("gqa" if q else "rwkv")
    if "transformer_layers" in cfg and cfg["transformer_layers"] is not None:
        assert set(cfg["transformer_layers"]) == {l for l, k in enumerate(kinds) if k == "gqa"}, "transformer_layers mismatch"
    if cfg.get("layer_types") is not None:
        m = {"rwkv": "rwkv", "hxa079": "rwkv", "attention": "gqa", "gqa": "gqa", "full_attention": "gqa"}
        assert [m[s] for s in cfg["layer_types"]] == kinds, "layer_types mismatch"
    rwkv_layers = [l for l, k in enumerate(kinds) if k == "rwkv"]
    l_first = rwkv_layers[0] if rwkv_layers else None
    theta = float(cfg["rope_theta"]) if rwkv_layers else cfg.get("rope_theta")
    if rwkv_layers:
        assert N % 2 == 0

    f = lambda a: np.asarray(a, dtype=F)  # exact widening (F32/F16/BF16 → F64)
    HN, KN = H * N, Hkv * N
    layers = []
    for l, t in enumerate(per_layer):
        d = {}
        for leaf, arr in t.items():
            if leaf.startswith("self_attn."):
                leaf = leaf[len("self_attn."):]
                allowed = _RWKV_LEAVES if kinds[l] == "rwkv" else _GQA_LEAVES
            else:
                allowed = _COMMON
            if leaf not in allowed:
                raise ValueError(f"layer {l}: unknown tensor {leaf}")
            d[leaf] = f(arr)
        # shape checks (SPEC §2.4–§2.6)
        def chk(leaf, shape, flat=False):
            if leaf not in d:
                return
            a = d[leaf]
            ok = a.size == int(np.prod(shape)) if flat else a.shape == tuple(shape)
            if not ok:
                raise ValueError(f"layer {l}: {leaf} has shape {a.shape}, want {shape}")
        chk("input_layernorm.weight", (C,)); chk("post_attention_layernorm.weight", (C,))
        chk("mlp.gate_proj.weight", (I, C)); chk("mlp.up_proj.weight", (I, C)); chk("mlp.down_proj.weight", (C, I))
        chk("mlp.gate_proj.bias", (I,)); chk("mlp.up_proj.bias", (I,)); chk("mlp.down_proj.bias", (C,))
        if kinds[l] == "rwkv":
            for leaf, shape in [("receptance.weight", (HN, C)), ("key.weight", (KN, C)), ("value.weight", (KN, C)),
                                ("output.weight", (C, HN)), ("receptance.bias", (HN,)), ("key.bias", (KN,)),
                                ("value.bias", (KN,)), ("output.bias", (C,)), ("r_norm.weight", (N,)),
                                ("k_norm.weight", (N,))]:
                chk(leaf, shape)
            for p, out in [("w", HN), ("a", HN), ("v", KN), ("k", KN)]:
                chk(p + "0", (out,), flat=True)
                if p + "1" in d:
                    D = d[p + "1"].shape[1]
                    chk(p + "1", (C, D)); chk(p + "2", (D, out))
            D = d["g1"].shape[1]; chk("g1", (C, D)); chk("g2", (D, HN))
            chk("r_k", (HN,), flat=True)
            mix = [x in d for x in ("v0", "v1", "v2", "k0", "k1", "k2")]
            if any(mix) and not all(mix):
                raise ValueError(f"layer {l}: partial v/k mix set")
            if l != l_first and not all(mix):
                raise ValueError(f"layer {l}: v/k mix tensors missing")
            for k in ("w0", "a0", "v0", "k0"):
                if k in d:
                    d[k] = d[k].reshape(-1)
            d["r_k"] = d["r_k"].reshape(H, N)
        else:
            for leaf, shape in [("q_proj.weight", (HN, C)), ("k_proj.weight", (KN, C)), ("v_proj.weight", (KN, C)),
                                ("o_proj.weight", (C, HN)), ("q_proj.bias", (HN,)), ("k_proj.bias", (KN,)),
                                ("v_proj.bias", (KN,)), ("o_proj.bias", (C,)), ("q_norm.weight", (N,)),
                                ("k_norm.weight", (N,))]:
                chk(leaf, shape)
        layers.append(d)

    for k in glob:
        if k not in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
            raise ValueError(f"unknown tensor {k}")
    emb = f(glob["model.embed_tokens.weight"])
    assert emb.shape == (V, C)
    if cfg.get("tie_word_embeddings", False):
        if "lm_head.weight" in glob:
            raise ValueError("tie_word_embeddings with lm_head.weight")
        head = emb
    else:
        head = f(glob["lm_head.weight"]) if "lm_head.weight" in glob else emb
    assert head.shape == (V, C)
    return Model(C=C, H=H, N=N, Hkv=Hkv, I=I, V=V, L=L, eps=float(cfg["rms_norm_eps"]), theta=theta,
                 kinds=kinds, l_first=l_first, emb=emb, final_norm=f(glob["model.norm.weight"]).reshape(C),
                 head=head, layers=layers)


# ----------------------------------------------------------------------------
# Elementary functions (SPEC §0.6)
# ----------------------------------------------------------------------------

def sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def silu(z):
    with np.errstate(over="ignore"):
        return z / (1.0 + np.exp(-z))


def rmsnorm(x, gamma, eps):
    """(2), (2a), (2b): normalise along the last axis, then multiply by γ."""
    mu = np.mean(x * x, axis=-1, keepdims=True)
    rho = 1.0 / np.sqrt(mu + eps)
    return gamma * (x * rho)


def linear(x, W, b=None):
    """§0.5 Linear rule: y = x·Wᵀ (+ b)."""
    y = x @ W.T
    return y if b is None else y + b


def rope(x, pos, theta):
    """(3), (3a), (3b), (4): rotate-half RoPE on the last axis of x [T, M, N]
    at absolute positions pos [T]."""
    N = x.shape[-1]
    half = N // 2
    e = (2.0 * np.arange(half, dtype=F)) / N            # (3a) e_j = fl(2j/N)
    # (3a) inv_freq_j = 1 / pow(θ, e_j). Scalar libm pow (math.pow), not np.power:
    # NumPy's SIMD pow can be 2 ulp off, which RoPE amplifies by the position p
    # (≈1e-12 relative in r at p = 1e6).
    inv_freq = np.array([1.0 / math.pow(float(theta), float(ej)) for ej in e], dtype=F)
    phi = pos.astype(F)[:, None] * inv_freq[None, :]     # (3b) [T, N/2]
    cos, sin = np.cos(phi)[:, None, :], np.sin(phi)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)   # (4)


# ----------------------------------------------------------------------------
# State (SPEC (37), §4.4)
# ----------------------------------------------------------------------------

@dataclass
class State:
    position: int
    wkv: dict      # layer → [H, N(value), N(key)]
    kcache: dict   # layer → [P, Hkv, N]
    vcache: dict

    def copy(self):
        return State(self.position, {k: v.copy() for k, v in self.wkv.items()},
                     {k: v.copy() for k, v in self.kcache.items()},
                     {k: v.copy() for k, v in self.vcache.items()})


def new_state(m: Model) -> State:
    """(37) initial state: position 0, zero WKV states, empty caches."""
    wkv = {l: np.zeros((m.H, m.N, m.N), F) for l, k in enumerate(m.kinds) if k == "rwkv"}
    kc = {l: np.zeros((0, m.Hkv, m.N), F) for l, k in enumerate(m.kinds) if k == "gqa"}
    vc = {l: np.zeros((0, m.Hkv, m.N), F) for l, k in enumerate(m.kinds) if k == "gqa"}
    return State(0, wkv, kc, vc)


def state_tensors(m: Model, s: State) -> dict[str, np.ndarray]:
    """§4.4 names → arrays."""
    out = {"state.position": np.array([s.position], dtype=np.int64)}
    for l, kind in enumerate(m.kinds):
        if kind == "rwkv":
            out[f"state.layers.{l}.wkv"] = s.wkv[l]
        else:
            out[f"state.layers.{l}.k"] = s.kcache[l]
            out[f"state.layers.{l}.v"] = s.vcache[l]
    return out


def write_state(path: str, m: Model, s: State) -> None:
    write_safetensors(path, {k: np.ascontiguousarray(v) for k, v in state_tensors(m, s).items()})


def read_state(path: str, m: Model) -> State:
    t = read_safetensors(path)
    want = set(state_tensors(m, new_state(m)))
    if set(t) != want:
        raise ValueError(f"state tensors differ: extra {sorted(set(t) - want)}, missing {sorted(want - set(t))}")
    pos = int(np.asarray(t["state.position"]).reshape(-1)[0])
    s = new_state(m)
    s.position = pos
    for l, kind in enumerate(m.kinds):
        if kind == "rwkv":
            a = np.asarray(t[f"state.layers.{l}.wkv"], F)
            assert a.shape == (m.H, m.N, m.N)
            s.wkv[l] = a.copy()
        else:
            for name, dst in (("k", s.kcache), ("v", s.vcache)):
                a = np.asarray(t[f"state.layers.{l}.{name}"], F)
                assert a.shape == (pos, m.Hkv, m.N), f"cache P {a.shape[0]} != position {pos}"
                dst[l] = a.copy()
    return s


# ----------------------------------------------------------------------------
# WKV: recurrent (18)–(20) and chunked (40)–(48)
# ----------------------------------------------------------------------------

def wkv_recurrent(S0, r, kt, v, alpha, beta, d):
    """(18)–(20) for all heads at once. S0 [H, Nv, Nk]; per-token inputs [T, H, N].
    Returns o [T, H, N] and the final state."""
    S = S0.copy()
    T = r.shape[0]
    o = np.empty_like(r)
    for t in range(T):
        sa = np.einsum("hij,hj->hi", S, alpha[t])                     # (18) from the old state
        S = S * d[t][:, None, :] + sa[:, :, None] * beta[t][:, None, :] \
            + v[t][:, :, None] * kt[t][:, None, :]                    # (19)
        o[t] = np.einsum("hij,hj->hi", S, r[t])                       # (20) from the new state
    return o, S


def _masked_exp(diff, mask):
    """(47): exp only of the masked (≤ 0) exponents; the rest is 0 by definition."""
    return np.exp(np.where(mask, diff, -np.inf))


def wkv_chunk(S0, r, kt, v, alpha, beta, g):
    """One chunk of §3.7 for all heads. S0 [H, Nv, Nk]; inputs [n, H, N] (time first);
    g the log decay (17a). Returns O [n, H, N] and S_n."""
    # head-major views [H, n, N]
    r, kt, v, alpha, beta, g = (np.swapaxes(a, 0, 1) for a in (r, kt, v, alpha, beta, g))
    Hh, n, N = r.shape
    G = np.cumsum(g, axis=1)                                           # (40) inclusive G_i
    Gx = np.concatenate([np.zeros((Hh, 1, N)), G[:, :-1]], axis=1)     # exclusive G_{i-1}
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    incl = (jj <= ii)[None, :, :, None]                                # j ≤ i
    strict = (jj < ii)[None, :, :, None]                               # j < i
    E_incl = _masked_exp(G[:, :, None, :] - G[:, None, :, :], incl)    # exp(G_i − G_j)   [H, i, j, κ]
    E_strict = _masked_exp(Gx[:, :, None, :] - G[:, None, :, :], strict)  # exp(G_{i−1} − G_j)
    A_qk = np.einsum("hik,hjk,hijk->hij", r, kt, E_incl)              # (41)
    A_qb = np.einsum("hik,hjk,hijk->hij", r, beta, E_incl)            # (42)
    A_ak = np.einsum("hik,hjk,hijk->hij", alpha, kt, E_strict)        # (43)
    A_ab = np.einsum("hik,hjk,hijk->hij", alpha, beta, E_strict)      # (43a)
    S0T = np.swapaxes(S0, 1, 2)                                        # [H, key, value]
    Ad = alpha * np.exp(Gx)                                            # rows α_i ⊙ exp(G_{i−1})
    Qd = r * np.exp(G)                                                 # rows r_i ⊙ exp(G_i)
    # (44): (I − A_ab)·Sa = A_ak·Vc + Ad·S0ᵀ, forward substitution
    R = A_ak @ v + Ad @ S0T
    Sa = np.zeros_like(R)
    for i in range(n):
        Sa[:, i] = R[:, i] + np.einsum("hj,hjn->hn", A_ab[:, i, :i], Sa[:, :i])
    O = Qd @ S0T + A_qk @ v + A_qb @ Sa                                # (45)
    decay_to_end = np.exp(G[:, -1:, :] - G)                            # exp(G_n − G_j) ≤ 1
    Kt, Bt = kt * decay_to_end, beta * decay_to_end
    Sn = S0 * np.exp(G[:, -1, :])[:, None, :] + np.swapaxes(v, 1, 2) @ Kt + np.swapaxes(Sa, 1, 2) @ Bt   # (46)
    return np.swapaxes(O, 0, 1), Sn


def wkv_chunked(S0, r, kt, v, alpha, beta, g, chunk_size):
    """(48): chunks of `chunk_size` aligned to the call start; last may be shorter."""
    T = r.shape[0]
    outs, S = [], S0
    for c0 in range(0, T, chunk_size):
        sl = slice(c0, min(T, c0 + chunk_size))
        O, S = wkv_chunk(S, r[sl], kt[sl], v[sl], alpha[sl], beta[sl], g[sl])
        outs.append(O)
    return np.concatenate(outs, axis=0), S


def wy_transition_check(alpha, beta, g):
    """(49) property: M_1⋯M_n (step by step) vs diag(exp(G_n)) + Wᵀ·Bt, one head
    (inputs [n, N]). Returns the max abs difference."""
    n, N = alpha.shape
    P = np.eye(N)
    for t in range(n):
        P = P @ (np.diag(np.exp(g[t])) + np.outer(alpha[t], beta[t]))
    G = np.cumsum(g, axis=0)
    Gx = np.vstack([np.zeros((1, N)), G[:-1]])
    A_ab = np.zeros((n, n))
    for i in range(n):
        for j in range(i):
            A_ab[i, j] = np.sum(alpha[i] * beta[j] * np.exp(Gx[i] - G[j]))
    W = np.linalg.solve(np.eye(n) - A_ab, alpha * np.exp(Gx))
    Bt = beta * np.exp(G[-1] - G)
    return np.max(np.abs(P - (np.diag(np.exp(G[-1])) + W.T @ Bt)))


# ----------------------------------------------------------------------------
# Mixers and forward (SPEC §3.3–§3.5, §4.2)
# ----------------------------------------------------------------------------

def rwkv_mixer(m: Model, l: int, w: dict, xh, pos, S0, first: dict, cps: dict, chunk_size: int):
    T = xh.shape[0]
    H, N, Hkv, G = m.H, m.N, m.Hkv, m.G
    pre = f"layers.{l}.rwkv."
    # (5)
    r = linear(xh, w["receptance.weight"], w.get("receptance.bias")).reshape(T, H, N)
    k = linear(xh, w["key.weight"], w.get("key.bias")).reshape(T, Hkv, N)
    v = linear(xh, w["value.weight"], w.get("value.bias")).reshape(T, Hkv, N)
    # (6) optional per-head norms
    if "r_norm.weight" in w:
        r = rmsnorm(r, w["r_norm.weight"], m.eps)
    if "k_norm.weight" in w:
        k = rmsnorm(k, w["k_norm.weight"], m.eps)
    # (7) RoPE on r (H heads) and k (Hkv heads), not on v
    r, k = rope(r, pos, m.theta), rope(k, pos, m.theta)
    cps[pre + "r"], cps[pre + "k"], cps[pre + "v"] = r, k, v
    if l == m.l_first:
        first["k"], first["v"] = k, v                                   # (8)
    else:
        gv = sigmoid(w["v0"] + (xh @ w["v1"]) @ w["v2"]).reshape(T, Hkv, N)
        gk = sigmoid(w["k0"] + (xh @ w["k1"]) @ w["k2"]).reshape(T, Hkv, N)
        v = v + (first["v"] - v) * gv                                   # (9)
        k = k + (first["k"] - k) * gk                                   # (10)
    cps[pre + "k_mixed"], cps[pre + "v_mixed"] = k, v
    kbar, vbar = np.repeat(k, G, axis=1), np.repeat(v, G, axis=1)      # (11) repeat-interleave
    norm = np.sqrt(np.sum(kbar * kbar, axis=-1, keepdims=True))
    kk = kbar / np.maximum(norm, 1e-12)                                 # (12)
    a = sigmoid(w["a0"] + (xh @ w["a1"]) @ w["a2"]).reshape(T, H, N)    # (13)
    omega = w["w0"] + np.tanh(xh @ w["w1"]) @ w["w2"]
    ww = (-softplus(-omega) - 0.5).reshape(T, H, N)                     # (14)
    kt = kbar * ((1.0 - ww) + a)                                        # (15) pre-exp w (D1)
    alpha, beta = -kk, kk * a                                           # (16)
    g = -np.exp(ww)                                                     # (17a)
    d = np.exp(g)                                                       # (17)
    cps[pre + "w"], cps[pre + "a"], cps[pre + "kk"] = ww, a, kk
    cps[pre + "k_scaled"], cps[pre + "decay"] = kt, d
    if chunk_size and chunk_size > 0:
        o, S = wkv_chunked(S0, r, kt, vbar, alpha, beta, g, chunk_size)
    else:
        o, S = wkv_recurrent(S0, r, kt, vbar, alpha, beta, d)
    cps[pre + "wkv"] = o
    cN = 1.0 / math.sqrt(N)                                             # (21a)
    y = o * cN                                                          # (21)
    b = np.sum((r * kt) * w["r_k"][None], axis=-1, keepdims=True)       # (22)
    bonus = b * vbar
    cps[pre + "bonus"] = bonus
    y = y + bonus
    gate = (sigmoid(xh @ w["g1"]) @ w["g2"]).reshape(T, H, N)          # (23)
    cps[pre + "gate"] = gate
    out = linear((y * gate).reshape(T, H * N), w["output.weight"], w.get("output.bias"))   # (24)
    cps[pre + "mixer_out"] = out
    return out, S


def gqa_mixer(m: Model, l: int, w: dict, xh, p0, Kc, Vc, cps: dict):
    T = xh.shape[0]
    H, N, Hkv, G = m.H, m.N, m.Hkv, m.G
    pre = f"layers.{l}.gqa."
    q = linear(xh, w["q_proj.weight"], w.get("q_proj.bias")).reshape(T, H, N)     # (25)
    k = linear(xh, w["k_proj.weight"], w.get("k_proj.bias")).reshape(T, Hkv, N)
    v = linear(xh, w["v_proj.weight"], w.get("v_proj.bias")).reshape(T, Hkv, N)
    if "q_norm.weight" in w:
        q = rmsnorm(q, w["q_norm.weight"], m.eps)                                   # (26)
    if "k_norm.weight" in w:
        k = rmsnorm(k, w["k_norm.weight"], m.eps)
    cps[pre + "q"], cps[pre + "k"], cps[pre + "v"] = q, k, v
    K = np.concatenate([Kc, k], axis=0)                                             # (27)
    Vv = np.concatenate([Vc, v], axis=0)
    P = K.shape[0]
    Kx, Vx = np.repeat(K, G, axis=1), np.repeat(Vv, G, axis=1)                     # KV head ⌊h/G⌋
    cN = 1.0 / math.sqrt(N)
    s = np.einsum("thn,jhn->thj", q, Kx) * cN                                       # (28)
    visible = np.arange(P)[None, :] <= (p0 + np.arange(T))[:, None]                # j ≤ p_t
    s = np.where(visible[:, None, :], s, -np.inf)
    mx = np.max(s, axis=-1, keepdims=True)
    e = np.exp(s - mx)                                                              # (29)
    pi = e / np.sum(e, axis=-1, keepdims=True)
    o = np.einsum("thj,jhn->thn", pi, Vx)                                           # (30)
    cps[pre + "attn"] = o
    out = linear(o.reshape(T, H * N), w["o_proj.weight"], w.get("o_proj.bias"))    # (31)
    cps[pre + "mixer_out"] = out
    return out, K, Vv


def mlp(w: dict, u):
    """(32) SwiGLU."""
    zg = linear(u, w["mlp.gate_proj.weight"], w.get("mlp.gate_proj.bias"))
    zu = linear(u, w["mlp.up_proj.weight"], w.get("mlp.up_proj.bias"))
    return linear(silu(zg) * zu, w["mlp.down_proj.weight"], w.get("mlp.down_proj.bias"))


def forward(m: Model, tokens, state: State | None = None, chunk_size: int = 0):
    """SPEC §4.1/§4.2. Returns (logits [T, V], checkpoints dict, new state).
    The input state is not modified."""
    tokens = np.asarray(tokens, dtype=np.int64)
    T = len(tokens)
    assert T >= 1 and np.all((tokens >= 0) & (tokens < m.V))
    st = (state or new_state(m)).copy()
    p0 = st.position
    pos = p0 + np.arange(T)
    cps = {}
    x = m.emb[tokens].copy()                                    # (1)
    cps["embed"] = x
    first = {}
    for l, kind in enumerate(m.kinds):
        w = m.layers[l]
        xh = rmsnorm(x, w["input_layernorm.weight"], m.eps)     # (5)/(25)
        cps[f"layers.{l}.norm1"] = xh
        if kind == "rwkv":
            out, st.wkv[l] = rwkv_mixer(m, l, w, xh, pos, st.wkv[l], first, cps, chunk_size)
        else:
            out, st.kcache[l], st.vcache[l] = gqa_mixer(m, l, w, xh, p0, st.kcache[l], st.vcache[l], cps)
        h = x + out                                             # (33)
        cps[f"layers.{l}.mixer_residual"] = h
        n2 = rmsnorm(h, w["post_attention_layernorm.weight"], m.eps)
        cps[f"layers.{l}.norm2"] = n2
        mo = mlp(w, n2)
        cps[f"layers.{l}.mlp_out"] = mo
        x = h + mo                                              # (34)
        cps[f"layers.{l}.out"] = x
    xL = rmsnorm(x, m.final_norm, m.eps)                        # (35)
    cps["final_norm"] = xL
    logits = xL @ m.head.T                                      # (36)
    cps["logits"] = logits
    st.position = p0 + T
    return logits, cps, st


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="float64 NumPy hxa079 forward")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--chunk-size", type=int, default=0)
    ap.add_argument("--state-in")
    ap.add_argument("--state-out")
    ap.add_argument("--dump")
    a = ap.parse_args()
    mdl = load_model(a.model)
    s0 = read_state(a.state_in, mdl) if a.state_in else new_state(mdl)
    lg, cp, s1 = forward(mdl, [int(t) for t in a.tokens.split(",")], s0, a.chunk_size)
    if a.dump:
        write_safetensors(a.dump, {**{k: np.ascontiguousarray(v) for k, v in cp.items()}, **state_tensors(mdl, s1)})
    if a.state_out:
        write_state(a.state_out, mdl, s1)
    print(f"forward: {len(lg)} tokens at {s0.position}..<{s1.position}; last argmax {int(np.argmax(lg[-1]))}")
