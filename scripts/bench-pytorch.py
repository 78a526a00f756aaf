#!/usr/bin/env python3
"""bench-pytorch.py — the PyTorch CPU eager baseline for `hxa079 bench` (issue 20, deliverable 4).

The hxa079 forward of SPEC.md §3 written in PyTorch as a good user would write it (a port of
Notebooks/hxa079_numpy.py): `F.linear` for every projection, `F.rms_norm`, the LoRA paths as
matrix products, the WKV recurrence (18)–(20) as a Python loop over tokens with batched head
operations (broadcast products over the H heads and `baddbmm_`, O(H·N²) per token), GQA layers through
`F.scaled_dot_product_attention`, SwiGLU MLP; `torch.inference_mode()`,
`torch.set_num_threads(os.cpu_count())`. Two precisions:
  float32   every weight, activation and the state in float32;
  bfloat16  weights, activations and KV cache in bfloat16 (`model.to(torch.bfloat16)`), the WKV
            recurrence in float32 on a float32 state (what RWKV's own PyTorch code does: a bf16
            state drifts over hundreds of tokens).

Subcommands (bad input: one line on stderr, exit 2):
  check  --hxa079 BIN [--presets small[,medium]] [--tokens 24]
         writes the preset with `hxa079 init-model --seed 0`, runs
         `hxa079 forward --precision f32 --dump … --checkpoints logits` (the reference engine) and
         compares the logits of this forward — one call of T tokens, and T−8 tokens then 8
         one-token calls with the state carried (the decode path) — in float32 (tolerance 1e-4
         relative to max |logit|) and bfloat16 (tolerance 5e-2). Exit 1 on a miss.
  bench  [--hxa079 BIN] [--quick] [--json FILE] [--check]
         times exactly what `hxa079 bench` (Sources/Hxa079CLI/BenchCommand.swift) times, on the
         same shapes and token counts: presets small and medium (T = 512; --quick: medium 128)
         and reka-layer / reka-layer RWKV (T = 128; not with --quick):
           prefill T=…, recurrent                    one call of T tokens: state + last logits
           prefill T=…, recurrent, logits for all T  one call, the head on every token
           decode after 64                           after a 64-token prefill, S one-token calls
                                                      with the state carried (S = 32; 8 for
                                                      reka-layer and with --quick)
         and the WKV op alone (T = 2048, 16 heads of 64; --quick 512) as the same loop.
         Statistic: like `hxa079 bench`, the best of R repetitions (R = 3; 2 for reka-layer; 1 with
         --quick), after an untimed warm-up call of 8 tokens (of the full size when R = 1: oneDNN
         builds its kernels per shape on the first call); the median is recorded in the JSON too. GFLOP/s use
         BenchCommand's useful-flop count (2 per weight per token, 9·H·N² per RWKV layer and
         token, 4·H·N·(p+1) per GQA layer, the head once for the last-logits prefill).
         Models: small and medium are `hxa079 init-model --preset P --seed 0` (f32) when --hxa079 is
         given, else drawn here; reka-layer cannot be written by init-model (its vocabulary is 512,
         the preset's is 100 352), so its random weights are always drawn here with the scales of
         Sources/Hxa079/RandomModel.swift (speed does not depend on the values; the forward code is
         the one `check` verifies). --check runs `check` first (needs --hxa079).
  ratios OURS.json TORCH.json
         the table of ratios from one `hxa079 bench --json` and one `bench --json` (scripts/bench.sh).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F


class BenchError(Exception):
    """Bad input or a failed external step: reported as one line, exit 2."""


# ----------------------------------------------------------------------------------------------
# Shapes (Sources/Hxa079/RandomModel.swift `Preset`, BenchCommand.swift `rekaLayer`)
# ----------------------------------------------------------------------------------------------

def training_ranks(width: int) -> tuple[int, int, int, int, int]:
    """ModelShape.trainingRanks: max(32, round(f·C'^e / 32)·32) (Swift rounds half away from 0)."""
    def rank(f, e):
        return max(32, int(math.floor(f * width ** e / 32 + 0.5)) * 32)
    return rank(1.7, 0.6), rank(1.8, 0.5), rank(1.3, 0.5), rank(1.3, 0.5), rank(0.35, 0.8)


PRESETS = {
    "small": dict(C=256, H=4, N=64, Hkv=2, I=704, V=4096, L=6, eps=1e-5, theta=10_000.0, gqa=[2, 5]),
    "medium": dict(C=1024, H=16, N=64, Hkv=4, I=2816, V=32000, L=12, eps=1e-5, theta=1_000_000.0, gqa=[3, 7, 11]),
    # `hxa079 bench`'s reka-layer: the reka preset's first two layers shape, GQA at 1, vocab 512
    "reka-layer": dict(C=6144, H=64, N=96, Hkv=8, I=19648, V=512, L=2, eps=1e-5, theta=8_000_000.0, gqa=[1],
                       ranks=(320, 128, 96, 96, 384)),
}


def random_tensors(p: dict, seed: int) -> dict[str, torch.Tensor]:
    """A random model of shape `p` (HF names, float32) with RandomModel.swift's scales
    (not its values: another generator)."""
    g = torch.Generator().manual_seed(seed)
    C, H, N, Hkv, I, V, L = p["C"], p["H"], p["N"], p["Hkv"], p["I"], p["V"], p["L"]
    HN, KN = H * N, Hkv * N
    Dw, Da, Dv, Dk, Dg = p.get("ranks") or training_ranks(HN)
    t: dict[str, torch.Tensor] = {}

    def normal(name, shape, std, mean=0.0):
        t[name] = torch.randn(shape, generator=g) * std + mean

    normal("model.embed_tokens.weight", (V, C), 0.5)
    for i in range(L):
        pre = f"model.layers.{i}."
        a = pre + "self_attn."
        normal(pre + "input_layernorm.weight", (C,), 0.1, 1.0)
        normal(pre + "post_attention_layernorm.weight", (C,), 0.1, 1.0)
        if i in p["gqa"]:
            normal(a + "q_proj.weight", (HN, C), C ** -0.5)
            normal(a + "k_proj.weight", (KN, C), C ** -0.5)
            normal(a + "v_proj.weight", (KN, C), C ** -0.5)
            normal(a + "o_proj.weight", (C, HN), 0.5 * HN ** -0.5)
        else:
            normal(a + "receptance.weight", (HN, C), C ** -0.5)
            normal(a + "key.weight", (KN, C), C ** -0.5)
            normal(a + "value.weight", (KN, C), C ** -0.5)
            normal(a + "output.weight", (C, HN), 0.5 * HN ** -0.5)
            ratio = i / max(L - 1, 1)
            x = (torch.arange(HN) % N).double() / (N - 1)
            t[a + "w0"] = (-6 + 5 * x ** (0.85 + math.sqrt(ratio)) + 0.3 * torch.randn(HN, generator=g,
                                                                                     dtype=torch.float64)
                           ).float().reshape(1, 1, HN)
            normal(a + "a0", (1, 1, HN), 0.3)
            normal(a + "v0", (1, 1, KN), 0.3, 0.5)
            normal(a + "k0", (1, 1, KN), 0.3, 0.5)
            for first, second, D, out in [("w1", "w2", Dw, HN), ("a1", "a2", Da, HN),
                                          ("v1", "v2", Dv, KN), ("k1", "k2", Dk, KN)]:
                normal(a + first, (C, D), C ** -0.5)
                normal(a + second, (D, out), 0.1 / math.sqrt(D))
            normal(a + "g1", (C, Dg), C ** -0.5)
            normal(a + "g2", (Dg, HN), Dg ** -0.5)
            normal(a + "r_k", (H, N), 0.1)
        normal(pre + "mlp.gate_proj.weight", (I, C), C ** -0.5)
        normal(pre + "mlp.up_proj.weight", (I, C), C ** -0.5)
        normal(pre + "mlp.down_proj.weight", (C, I), 0.5 * I ** -0.5)
    normal("model.norm.weight", (C,), 0.1, 1.0)
    normal("lm_head.weight", (V, C), C ** -0.5)
    return t


def load_model_dir(path: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """config.json + model.safetensors (HF-style names, one file) → (shape dict, tensors)."""
    from safetensors.torch import load_file
    try:
        with open(os.path.join(path, "config.json")) as f:
            cfg = json.load(f)
        tensors = load_file(os.path.join(path, "model.safetensors"))
    except (OSError, ValueError) as e:
        raise BenchError(f"cannot read model {path}: {e}")
    if "model.embed_tokens.weight" not in tensors:
        raise BenchError(f"{path}: only HF-style tensor names are supported (model.embed_tokens.weight missing)")
    C, H = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    L = int(cfg["num_hidden_layers"])
    shape = dict(C=C, H=H, N=int(cfg.get("head_dim") or C // H), Hkv=int(cfg.get("num_key_value_heads") or H),
                 I=int(cfg["intermediate_size"]), V=int(cfg["vocab_size"]), L=L, eps=float(cfg["rms_norm_eps"]),
                 theta=float(cfg.get("rope_theta") or 10_000.0),
                 gqa=[i for i in range(L) if f"model.layers.{i}.self_attn.q_proj.weight" in tensors])
    if cfg.get("tie_word_embeddings") and "lm_head.weight" not in tensors:
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"]
    return shape, tensors


# ----------------------------------------------------------------------------------------------
# The model (SPEC §3, §4.1; names as in Notebooks/hxa079_numpy.py)
# ----------------------------------------------------------------------------------------------

class State:
    """(37): position, per RWKV layer the WKV state [H, N(value), N(key)] (float32), per GQA layer
    the K and V caches [P, Hkv, N] (the model's dtype)."""

    def __init__(self, position, wkv, kcache, vcache):
        self.position, self.wkv, self.kcache, self.vcache = position, wkv, kcache, vcache

    def copy(self) -> "State":
        return State(self.position, {k: v.clone() for k, v in self.wkv.items()},
                     {k: v.clone() for k, v in self.kcache.items()}, {k: v.clone() for k, v in self.vcache.items()})


class TorchHxa079:
    def __init__(self, shape: dict, tensors: dict[str, torch.Tensor], dtype: torch.dtype, layers: int | None = None):
        s = shape
        self.C, self.H, self.N, self.Hkv, self.I, self.V = s["C"], s["H"], s["N"], s["Hkv"], s["I"], s["V"]
        self.eps, self.theta, self.dtype = s["eps"], s["theta"], dtype
        self.G = self.H // self.Hkv
        L = s["L"] if layers is None else layers
        cv = lambda x: x.to(dtype).contiguous()
        self.emb = cv(tensors["model.embed_tokens.weight"])
        self.final_norm = cv(tensors["model.norm.weight"])
        self.head = cv(tensors["lm_head.weight"])
        self.kinds, self.layers = [], []
        for i in range(L):
            pre = f"model.layers.{i}."
            d = {k[len(pre):]: cv(v) for k, v in tensors.items() if k.startswith(pre)}
            self.kinds.append("gqa" if "self_attn.q_proj.weight" in d else "rwkv")
            for k in ("w0", "a0", "v0", "k0"):
                if "self_attn." + k in d:
                    d["self_attn." + k] = d["self_attn." + k].reshape(-1)
            self.layers.append(d)
        rwkv = [i for i, k in enumerate(self.kinds) if k == "rwkv"]
        self.l_first = rwkv[0] if rwkv else None
        # (3a): inv_freq_j = 1 / θ^(2j/N), in binary64
        half = self.N // 2
        self.inv_freq = torch.tensor([1.0 / math.pow(self.theta, 2.0 * j / self.N) for j in range(half)],
                                     dtype=torch.float64)

    def new_state(self) -> State:
        wkv = {i: torch.zeros(self.H, self.N, self.N) for i, k in enumerate(self.kinds) if k == "rwkv"}
        kc = {i: torch.zeros(0, self.Hkv, self.N, dtype=self.dtype) for i, k in enumerate(self.kinds) if k == "gqa"}
        vc = {i: torch.zeros(0, self.Hkv, self.N, dtype=self.dtype) for i, k in enumerate(self.kinds) if k == "gqa"}
        return State(0, wkv, kc, vc)

    # ---- pieces

    def rope(self, x, cos, sin):
        """(4) rotate-half RoPE on the last axis of x [T, M, N]; cos, sin [T, 1, N/2]."""
        half = self.N // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    @staticmethod
    def wkv(S, r, kt, v, alpha, beta, d):
        """(18)–(20), a loop over tokens, all heads at once. S [H, N(value), N(key)] float32 (updated in
        place); inputs [T, H, N] float32. Returns o [T, H, N]. The matrix-vector products are a
        broadcast multiply and a sum (1.2–2.5× faster here than a batched bmm with a 1-column
        matrix, which goes through the GEMM path: 512-token loops, 2 threads, 2026-12-04), the rank-1
        updates in-place baddbmm_."""
        o = torch.empty_like(r)
        for t in range(r.shape[0]):
            sa = (S * alpha[t].unsqueeze(1)).sum(-1, keepdim=True)       # (18) S·α from the old state
            S.mul_(d[t].unsqueeze(1))                                     # (19) S·diag(d)
            S.baddbmm_(sa, beta[t].unsqueeze(1))                          #      + (S·α)βᵀ
            S.baddbmm_(v[t].unsqueeze(2), kt[t].unsqueeze(1))             #      + v k̃ᵀ
            o[t] = (S * r[t].unsqueeze(1)).sum(-1)                        # (20) S·r from the new state
        return o

    def rwkv_mixer(self, l, w, xh, cos, sin, S, first):
        T, H, N, Hkv, G = xh.shape[0], self.H, self.N, self.Hkv, self.G
        a_ = lambda k: w.get("self_attn." + k)
        r = F.linear(xh, a_("receptance.weight"), a_("receptance.bias")).view(T, H, N)     # (5)
        k = F.linear(xh, a_("key.weight"), a_("key.bias")).view(T, Hkv, N)
        v = F.linear(xh, a_("value.weight"), a_("value.bias")).view(T, Hkv, N)
        if a_("r_norm.weight") is not None:                                                 # (6)
            r = F.rms_norm(r, (N,), a_("r_norm.weight"), self.eps)
        if a_("k_norm.weight") is not None:
            k = F.rms_norm(k, (N,), a_("k_norm.weight"), self.eps)
        r, k = self.rope(r, cos, sin), self.rope(k, cos, sin)                             # (7)
        if l == self.l_first:
            first["k"], first["v"] = k, v                                                   # (8)
        else:
            gv = torch.sigmoid(a_("v0") + (xh @ a_("v1")) @ a_("v2")).view(T, Hkv, N)
            gk = torch.sigmoid(a_("k0") + (xh @ a_("k1")) @ a_("k2")).view(T, Hkv, N)
            v = v + (first["v"] - v) * gv                                                   # (9)
            k = k + (first["k"] - k) * gk                                                   # (10)
        kbar = k.repeat_interleave(G, dim=1) if G > 1 else k                                # (11)
        vbar = v.repeat_interleave(G, dim=1) if G > 1 else v
        kk = F.normalize(kbar, dim=-1, eps=1e-12)                                           # (12)
        a = torch.sigmoid(a_("a0") + (xh @ a_("a1")) @ a_("a2")).view(T, H, N)              # (13)
        omega = a_("w0") + torch.tanh(xh @ a_("w1")) @ a_("w2")
        ww = (-F.softplus(-omega) - 0.5).view(T, H, N)                                      # (14)
        kt = kbar * ((1.0 - ww) + a)                                                        # (15)
        f32 = lambda x: x.float().contiguous()
        d = torch.exp(-torch.exp(f32(ww)))                                                  # (17)
        o = self.wkv(S, f32(r), f32(kt), f32(vbar), f32(-kk), f32(kk * a), d).to(self.dtype)   # (16), (18)–(20)
        y = o * (1.0 / math.sqrt(N))                                                        # (21)
        b = ((r * kt) * a_("r_k").view(1, H, N)).sum(dim=-1, keepdim=True)                  # (22)
        y = y + b * vbar
        gate = (torch.sigmoid(xh @ a_("g1")) @ a_("g2")).view(T, H, N)                      # (23)
        return F.linear((y * gate).reshape(T, H * N), a_("output.weight"), a_("output.bias"))   # (24)

    def gqa_mixer(self, w, xh, p0, state, l):
        T, H, N, Hkv, G = xh.shape[0], self.H, self.N, self.Hkv, self.G
        a_ = lambda k: w.get("self_attn." + k)
        q = F.linear(xh, a_("q_proj.weight"), a_("q_proj.bias")).view(T, H, N)              # (25)
        k = F.linear(xh, a_("k_proj.weight"), a_("k_proj.bias")).view(T, Hkv, N)
        v = F.linear(xh, a_("v_proj.weight"), a_("v_proj.bias")).view(T, Hkv, N)
        if a_("q_norm.weight") is not None:                                                 # (26)
            q = F.rms_norm(q, (N,), a_("q_norm.weight"), self.eps)
        if a_("k_norm.weight") is not None:
            k = F.rms_norm(k, (N,), a_("k_norm.weight"), self.eps)
        K = torch.cat([state.kcache[l], k]) if p0 > 0 else k                                # (27)
        Vv = torch.cat([state.vcache[l], v]) if p0 > 0 else v
        state.kcache[l], state.vcache[l] = K, Vv
        Kx = K.repeat_interleave(G, dim=1) if G > 1 else K                                  # KV head ⌊h/G⌋
        Vx = Vv.repeat_interleave(G, dim=1) if G > 1 else Vv
        qh, kh, vh = q.transpose(0, 1), Kx.transpose(0, 1), Vx.transpose(0, 1)              # [H, ·, N]
        if T == 1:                                   # one token sees the whole cache
            o = F.scaled_dot_product_attention(qh, kh, vh)
        elif p0 == 0:                                # a prompt: plain causal
            o = F.scaled_dot_product_attention(qh, kh, vh, is_causal=True)
        else:                                        # j ≤ p0 + t
            P = K.shape[0]
            mask = torch.arange(P)[None, :] <= (p0 + torch.arange(T))[:, None]
            o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        o = o.transpose(0, 1).reshape(T, H * N)                                             # (28)–(30)
        return F.linear(o, a_("o_proj.weight"), a_("o_proj.bias"))                          # (31)

    def forward(self, tokens: torch.Tensor, state: State, all_logits: bool = True) -> torch.Tensor:
        """§4.1 one call: updates `state` in place; logits [T, V] (all_logits) or [1, V] (the last token's)."""
        T, p0 = tokens.shape[0], state.position
        pos = p0 + torch.arange(T, dtype=torch.float64)
        phi = pos[:, None] * self.inv_freq[None, :]                                         # (3b)
        cos = torch.cos(phi).to(self.dtype).unsqueeze(1)
        sin = torch.sin(phi).to(self.dtype).unsqueeze(1)
        x = F.embedding(tokens, self.emb)                                                   # (1)
        first: dict = {}
        for l, kind in enumerate(self.kinds):
            w = self.layers[l]
            xh = F.rms_norm(x, (self.C,), w["input_layernorm.weight"], self.eps)           # (2)
            if kind == "rwkv":
                out = self.rwkv_mixer(l, w, xh, cos, sin, state.wkv[l], first)
            else:
                out = self.gqa_mixer(w, xh, p0, state, l)
            h = x + out                                                                     # (33)
            u = F.rms_norm(h, (self.C,), w["post_attention_layernorm.weight"], self.eps)
            zg = F.linear(u, w["mlp.gate_proj.weight"], w.get("mlp.gate_proj.bias"))        # (32)
            zu = F.linear(u, w["mlp.up_proj.weight"], w.get("mlp.up_proj.bias"))
            x = h + F.linear(F.silu(zg) * zu, w["mlp.down_proj.weight"], w.get("mlp.down_proj.bias"))   # (34)
        if not all_logits:
            x = x[-1:]
        xL = F.rms_norm(x, (self.C,), self.final_norm, self.eps)                            # (35)
        state.position = p0 + T
        return F.linear(xL, self.head)                                                      # (36)

    def flops_per_token(self, p: int) -> float:
        """BenchCommand.flopsPerToken: 2 per weight, 9·H·N² per RWKV layer, 4·H·N·(p+1) per GQA layer."""
        f = 2.0 * self.V * self.C
        for kind, w in zip(self.kinds, self.layers):
            f += 2.0 * sum(w[k].numel() for k in ("mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"))
            if kind == "rwkv":
                f += 2.0 * sum(w["self_attn." + k].numel() for k in
                               ("receptance.weight", "key.weight", "value.weight", "output.weight",
                                "w1", "w2", "a1", "a2", "g1", "g2", "v1", "v2", "k1", "k2")
                               if "self_attn." + k in w)
                f += 9.0 * self.H * self.N * self.N
            else:
                f += 2.0 * sum(w["self_attn." + k].numel() for k in
                               ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight"))
                f += 4.0 * self.H * self.N * (p + 1)
        return f


# ----------------------------------------------------------------------------------------------
# check: against `hxa079 forward --precision f32`
# ----------------------------------------------------------------------------------------------

# Tolerances: max |Δlogit| / max |logit| over all tokens and the vocabulary.
# Measured 2026-12-04 against the f32 reference (24 tokens, token seed 11): float32 1.52e-6 (small;
# 1.57e-6 with the state carried), 2.85e-6 (medium; 2.86e-6); 1e-4 leaves ≈ 35× room for other BLAS
# builds and thread counts, and still fails planted mistakes in the shared code: decay d^1.01 2.4e-3,
# RMSNorm eps 1e-3 for 1e-5 3.2e-3, RoPE dropped 1.19, RoPE sin sign flipped 1.21 (small, float32).
# bfloat16 (weights, activations, KV cache rounded to 8 bits): 2.02e-2 (small), 2.40e-2 (medium);
# 5e-2 catches the gross mistakes (RoPE dropped / flipped: 1.19 / 1.20) but not the subtle ones
# (2.1e-2 / 2.5e-2) — the float32 check, on the same code, is the one that holds the model.
TOL_F32 = 1e-4
TOL_BF16 = 5e-2


def write_preset(binary: str, preset: str, out: str) -> None:
    r = subprocess.run([binary, "init-model", "--preset", preset, "--seed", "0", "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"hxa079 init-model --preset {preset} failed: {(r.stderr or r.stdout).strip()[:300]}")


def reference_logits(binary: str, model_dir: str, tokens: list[int], dump: str) -> torch.Tensor:
    from safetensors.torch import load_file
    r = subprocess.run([binary, "forward", "--model", model_dir, "--tokens", ",".join(map(str, tokens)),
                        "--precision", "f32", "--dump", dump, "--checkpoints", "logits"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"hxa079 forward failed: {(r.stderr or r.stdout).strip()[:300]}")
    return load_file(dump)["logits"].double()


def run_check(binary: str, presets: list[str], n_tokens: int, tmp: str) -> bool:
    if n_tokens < 9:
        raise BenchError("--tokens must be at least 9 (the decode check carries the state over 8 tokens)")
    ok = True
    for preset in presets:
        if preset not in ("small", "medium"):
            raise BenchError(f"check: preset {preset!r} cannot be written by init-model here (small, medium)")
        d = os.path.join(tmp, f"check-{preset}")
        write_preset(binary, preset, d)
        shape, tensors = load_model_dir(d)
        g = torch.Generator().manual_seed(11)
        tokens = torch.randint(0, shape["V"], (n_tokens,), generator=g)
        ref = reference_logits(binary, d, tokens.tolist(), os.path.join(tmp, f"check-{preset}.safetensors"))
        scale = ref.abs().max().item()
        for dtype, tol in ((torch.float32, TOL_F32), (torch.bfloat16, TOL_BF16)):
            m = TorchHxa079(shape, tensors, dtype)
            with torch.inference_mode():
                one = m.forward(tokens, m.new_state()).double()
                s = m.new_state()
                parts = [m.forward(tokens[:-8], s)]
                for i in range(n_tokens - 8, n_tokens):
                    parts.append(m.forward(tokens[i:i + 1], s))
                carried = torch.cat(parts).double()
            for label, got in (("one call", one), ("prefill + 8 decode steps", carried)):
                if got.shape != ref.shape:
                    raise BenchError(f"check {preset}: logits shape {tuple(got.shape)} vs {tuple(ref.shape)}")
                rel = (got - ref).abs().max().item() / scale
                verdict = "ok" if rel <= tol else "FAIL"
                ok &= rel <= tol
                print(f"check {preset} {str(dtype).removeprefix('torch.')}, {label}: "
                      f"max |Δlogit| / max |logit| = {rel:.2e} (tolerance {tol:.0e}) {verdict}")
        del tensors
    return ok


# ----------------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------------

def times(reps: int, body) -> list[float]:
    out = []
    for _ in range(max(reps, 1)):
        t0 = time.perf_counter()
        body()
        out.append(time.perf_counter() - t0)
    return out


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


class Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        self.rows: list[dict] = []

    def row(self, preset, dtype, measure, tokens, ts, flops):
        best = min(ts)
        self.rows.append(dict(preset=preset, dtype=dtype, measure=measure, tok_s=tokens / best,
                              gflops=flops / best / 1e9, best_s=best, median_s=statistics.median(ts), reps=len(ts),
                              tok_s_median=tokens / statistics.median(ts)))
        r = self.rows[-1]
        print(f"  {preset:15s} {dtype:8s} {measure:45s} {r['tok_s']:10.1f} tok/s  {r['gflops']:6.1f} GFLOP/s"
              f"  (median {r['tok_s_median']:.1f})", flush=True)

    def model(self, preset, shape, tensors, prefill, decode_steps, reps, layers=None):
        V = shape["V"]
        g = torch.Generator().manual_seed(7)
        tokens = torch.randint(0, V, (prefill,), generator=g)
        dec_tokens = torch.randint(0, V, (decode_steps,), generator=g)
        for dtype in (torch.float32, torch.bfloat16):
            tag = str(dtype).removeprefix("torch.")
            m = TorchHxa079(shape, tensors, dtype, layers=layers)
            all_flops = sum(m.flops_per_token(p) for p in range(prefill))
            last_flops = all_flops - (prefill - 1) * 2.0 * V * m.C
            with torch.inference_mode():
                for label, all_logits, flops in (("recurrent", False, last_flops),
                                                 ("recurrent, logits for all T", True, all_flops)):
                    m.forward(tokens[:8] if reps > 1 else tokens, m.new_state(), all_logits)   # warm-up
                    ts = times(reps, lambda: m.forward(tokens, m.new_state(), all_logits))
                    self.row(preset, tag, f"prefill T={prefill}, {label}", prefill, ts, flops)
                s0 = m.new_state()
                m.forward(tokens[:64], s0)
                m.forward(dec_tokens[:1], s0.copy())                                        # warm-up

                def decode():
                    s = s0.copy()
                    for i in range(decode_steps):
                        m.forward(dec_tokens[i:i + 1], s)
                ts = times(reps, decode)
                self.row(preset, tag, "decode after 64", decode_steps, ts,
                         decode_steps * m.flops_per_token(64 + decode_steps // 2))
            del m

    def wkv_op(self):
        T, H, N = (512 if self.quick else 2048), 16, 64
        g = torch.Generator().manual_seed(3)
        r, v = torch.randn(T, H, N, generator=g), torch.randn(T, H, N, generator=g)
        kk = F.normalize(torch.randn(T, H, N, generator=g), dim=-1)
        a = torch.rand(T, H, N, generator=g) * 0.9 + 0.05
        w = -torch.rand(T, H, N, generator=g) * 5.5 - 0.5
        kt = torch.randn(T, H, N, generator=g) * (1 - w + a)
        d = torch.exp(-torch.exp(w))
        alpha, beta = -kk, kk * a
        with torch.inference_mode():
            TorchHxa079.wkv(torch.zeros(H, N, N), r[:8], kt[:8], v[:8], alpha[:8], beta[:8], d[:8])
            ts = times(2 if self.quick else 5,
                       lambda: TorchHxa079.wkv(torch.zeros(H, N, N), r, kt, v, alpha, beta, d))
        self.row("wkv op", "float32", f"T={T}, 16×64, recurrent", T, ts, 9.0 * T * H * N * N)


def run_bench(args, tmp: str) -> dict:
    torch.set_num_threads(os.cpu_count() or 1)
    info = dict(torch=torch.__version__, threads=torch.get_num_threads(), cpu=cpu_model(),
                cores=os.cpu_count(), capability=torch.backends.cpu.get_cpu_capability(),
                loadavg_start=loadavg(), date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(f"bench-pytorch: torch {info['torch']}, {info['threads']} threads, {info['capability']}, "
          f"cpu {info['cpu']}; loadavg {info['loadavg_start']}", flush=True)
    b = Bench(args.quick)
    sources = {}
    for preset in ("small", "medium"):
        if args.hxa079:
            d = os.path.join(tmp, preset)
            write_preset(args.hxa079, preset, d)
            shape, tensors = load_model_dir(d)
            sources[preset] = "hxa079 init-model --seed 0"
        else:
            shape = PRESETS[preset]
            tensors = random_tensors(shape, seed=42)
            sources[preset] = "drawn by bench-pytorch.py"
        prefill = 128 if (args.quick and preset == "medium") else 512
        b.model(preset, shape, tensors, prefill, 8 if args.quick else 32, 1 if args.quick else 3)
        del tensors
    if not args.quick:
        shape = PRESETS["reka-layer"]
        tensors = random_tensors(shape, seed=42)
        sources["reka-layer"] = "drawn by bench-pytorch.py (init-model cannot write vocab 512)"
        b.model("reka-layer", shape, tensors, 128, 8, 2)
        b.model("reka-layer RWKV", shape, tensors, 128, 8, 2, layers=1)
        del tensors
    b.wkv_op()
    info["loadavg_end"] = loadavg()
    info["model_sources"] = sources
    return dict(machine=info, quick=args.quick, rows=b.rows)


# ----------------------------------------------------------------------------------------------
# ratios
# ----------------------------------------------------------------------------------------------

def run_ratios(ours_path: str, torch_path: str) -> None:
    try:
        with open(ours_path) as f:
            ours = json.load(f)
        with open(torch_path) as f:
            theirs = json.load(f)
    except (OSError, ValueError) as e:
        raise BenchError(f"cannot read the bench JSON: {e}")
    fast = {(r["preset"], r["measure"]): r["fast"] for r in ours.get("rows", [])}
    tt = {(r["preset"], r["dtype"], r["measure"]): r["tok_s"] for r in theirs.get("rows", [])}
    # a PyTorch row whose median repetition is > 15 % slower than its best was disturbed; it is starred
    # (2026-12-04 full run: the starred rows at 0.70–0.79 of their best, every other row 0.89–1.0; a
    # hint only: that run's unstarred small f32 all-logits row (0.89) was disturbed too)
    unsteady = {(r["preset"], r["dtype"], r["measure"]) for r in theirs.get("rows", [])
                if r.get("tok_s_median", r["tok_s"]) < 0.85 * r["tok_s"]}

    def f(x, key=None):
        if x is None:
            return "—"
        return (f"{x:.0f}" if x >= 100 else f"{x:.3g}") + ("*" if key in unsteady else "")

    def ratio(a, b):
        return "—" if a is None or b is None else f"{a / b:.2f}×"

    print(f"ratios — ours: hxa079 bench ({ours.get('machine', {}).get('kernels', '?')} kernels); "
          f"PyTorch {theirs['machine']['torch']} eager, {theirs['machine']['threads']} threads; "
          f"loadavg {theirs['machine']['loadavg_start']} → {theirs['machine']['loadavg_end']} during PyTorch")
    # ours bf16 = the bf16 engine (`--precision bf16`: bf16 storage and vdpbf16ps products), the row
    # PyTorch's bfloat16 eager is to be compared with
    print("| preset | measure | ours f32 | ours bf16 | PyTorch f32 | PyTorch bf16 "
          "| ours f32 / PyTorch f32 | ours bf16 / PyTorch bf16 | ours bf16 / ours f32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    presets = []
    for r in theirs["rows"]:
        if r["preset"] not in presets:
            presets.append(r["preset"])
    for p in presets:
        measures = []
        for r in theirs["rows"]:
            if r["preset"] == p and r["measure"] not in measures:
                measures.append(r["measure"])
        for m in measures:
            t32, t16 = tt.get((p, "float32", m)), tt.get((p, "bfloat16", m))
            forms = [(m, fast.get((p, m)), fast.get((p, m + ", bf16 engine")))]
            if m.endswith(", recurrent") and m.startswith("prefill"):
                chunked = m.replace(", recurrent", ", chunked L=32")
                forms.append((chunked + " (ours) vs recurrent (PyTorch)", fast.get((p, chunked)),
                              fast.get((p, chunked + ", bf16 engine"))))
            if p == "wkv op":
                forms = [(m, fast.get((p, m)), None)]
            for label, o32, o16 in forms:
                print(f"| {p} | {label} | {f(o32)} | {f(o16)} | {f(t32, (p, 'float32', m))} "
                      f"| {f(t16, (p, 'bfloat16', m))} | {ratio(o32, t32)} "
                      f"| {ratio(o16, t16)} | {ratio(o16, o32)} |")
    if unsteady:
        print("* PyTorch median repetition > 15 % below its best: disturbed by other load; rerun before citing")
    missing = [k for k in tt if k[0] != "wkv op" and (k[0], k[2]) not in fast]
    if missing:
        print(f"(rows without a hxa079 bench figure: {len(missing)}; were both runs made with the same --quick?)")


# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="PyTorch CPU eager baseline for hxa079 bench")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="compare with hxa079 forward --precision f32")
    c.add_argument("--hxa079", required=True, help="the hxa079 executable")
    c.add_argument("--presets", default="small", help="comma-separated: small, medium (default small)")
    c.add_argument("--tokens", type=int, default=24)
    b = sub.add_parser("bench", help="time the presets as hxa079 bench does")
    b.add_argument("--hxa079", help="the hxa079 executable (writes small and medium with init-model)")
    b.add_argument("--quick", action="store_true", help="hxa079 bench --quick's counts; no reka-layer")
    b.add_argument("--json", help="also write the figures as JSON")
    b.add_argument("--check", action="store_true", help="run `check` (small) first; needs --hxa079")
    r = sub.add_parser("ratios", help="table of ratios from hxa079 bench --json and bench --json")
    r.add_argument("ours")
    r.add_argument("theirs")
    args = ap.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        if args.cmd == "ratios":
            run_ratios(args.ours, args.theirs)
            return 0
        if getattr(args, "hxa079", None) and not os.access(args.hxa079, os.X_OK):
            raise BenchError(f"not an executable: {args.hxa079}")
        with tempfile.TemporaryDirectory(prefix="hxa079-bench-pytorch.") as tmp:
            if args.cmd == "check" or args.check:
                if not args.hxa079:
                    raise BenchError("--check needs --hxa079")
                presets = [p.strip() for p in args.presets.split(",")] if args.cmd == "check" else ["small"]
                if not run_check(args.hxa079, presets, args.tokens if args.cmd == "check" else 24, tmp):
                    print("bench-pytorch: check FAILED", file=sys.stderr)
                    return 1
                if args.cmd == "check":
                    return 0
            result = run_bench(args, tmp)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=1)
            print(f"wrote {args.json}")
        return 0
    except BenchError as e:
        print(f"bench-pytorch: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
