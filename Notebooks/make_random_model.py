"""Writes seeded random hxa079 model directories (config.json + model.safetensors).

HF-style names exactly as in SPEC §2; `*0` vectors stored [1, 1, D]; LoRA `*1`
[C, D] and `*2` [D, out]; Linear weights [out, in].
Optionally RWKV-style names (SPEC §2.2) and/or sharded files with an index (§2.1). Weights may be stored F64,
F32, F16 or BF16 (BF16 written by hand as uint16 bit patterns, round-to-nearest-even
from float32).

Scales are "realistic" for a trained RWKV-7 / Llama hybrid: projections
N(0, 1/fan_in); decay bias w0 spread over [w0_lo, w0_hi] (default [−6, −1])
across channels; a0 ~ N(0, 0.3²); v0/k0 ~ N(0, 0.5²); LoRA first halves
N(0, 1/C), second halves small; norms ≈ 1.

Usage (CLI):  python make_random_model.py OUTDIR --seed 1 --head-dim 32 --heads 2 \
                  --kv-heads 1 --layers 4 --gqa 0,3 --biases --rk-norms --qk-norms \
                  --tied --dtype BF16
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field, asdict

import numpy as np

try:
    from hxa079_numpy import write_safetensors
except ImportError:  # when imported as Notebooks.make_random_model
    from .hxa079_numpy import write_safetensors


@dataclass
class RandomModelSpec:
    seed: int = 0
    hidden: int = 64              # C
    heads: int = 2                # H
    kv_heads: int = 1             # Hkv
    head_dim: int = 32            # N (H·N need not equal C)
    intermediate: int = 96        # I
    vocab: int = 97               # V
    layers: int = 3               # L
    gqa: list = field(default_factory=list)    # GQA layer indices
    biases: bool = False
    rk_norms: bool = False        # r_norm / k_norm in RWKV layers
    qk_norms: bool = False        # q_norm / k_norm in GQA layers
    tied: bool = False            # no lm_head.weight
    tie_flag: bool = False        # write tie_word_embeddings: true (only with tied)
    dtype: str = "F64"            # F64 | F32 | BF16
    eps: float = 1e-5
    theta: float = 10000.0
    ranks: tuple = (8, 6, 4, 4, 12)   # Dw, Da, Dv, Dk, Dg
    w0_range: tuple = (-6.0, -1.0)
    mix_in_first: bool = False    # also store v0…k2 in layer l_first (TRN checkpoints do)
    bookkeeping: bool = False     # layer_architecture / head_size_record scalars
    layer_types: bool = False     # also write config "layer_types"
    rwkv_style: bool = False      # RWKV-style names (emb.weight, blocks.N.att.…) instead of HF-style
    shards: int = 0               # > 1: write model.safetensors.index.json + that many shards
    minimal_config: bool = False  # only required config fields (N = C/H, Hkv = H, untied flag absent, …)


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round float32 → bfloat16 (nearest-even), return the uint16 bit patterns."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = u + 0x7FFF + ((u >> 16) & 1)
    return (u >> 16).astype(np.uint16)


def build_tensors(s: RandomModelSpec) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(s.seed)
    C, H, N, Hkv, I, V = s.hidden, s.heads, s.head_dim, s.kv_heads, s.intermediate, s.vocab
    HN, KN = H * N, Hkv * N
    Dw, Da, Dv, Dk, Dg = s.ranks
    nrm = lambda *shape, std=1.0: rng.normal(0.0, std, size=shape)
    lin = lambda out, inp: nrm(out, inp, std=1.0 / np.sqrt(inp))
    gamma = lambda n: 1.0 + nrm(n, std=0.1)
    vec0 = lambda d, std: nrm(1, 1, d, std=std)
    t = {}
    t["model.embed_tokens.weight"] = nrm(V, C)
    t["model.norm.weight"] = gamma(C)
    if not s.tied:
        t["lm_head.weight"] = lin(V, C)
    gqa = set(s.gqa)
    l_first = min((l for l in range(s.layers) if l not in gqa), default=None)
    for l in range(s.layers):
        p = f"model.layers.{l}."
        a = p + "self_attn."
        t[p + "input_layernorm.weight"] = gamma(C)
        t[p + "post_attention_layernorm.weight"] = gamma(C)
        t[p + "mlp.gate_proj.weight"] = lin(I, C)
        t[p + "mlp.up_proj.weight"] = lin(I, C)
        t[p + "mlp.down_proj.weight"] = lin(C, I)
        if s.biases:
            t[p + "mlp.gate_proj.bias"] = nrm(I, std=0.1)
            t[p + "mlp.up_proj.bias"] = nrm(I, std=0.1)
            t[p + "mlp.down_proj.bias"] = nrm(C, std=0.1)
        if l in gqa:
            t[a + "q_proj.weight"] = lin(HN, C)
            t[a + "k_proj.weight"] = lin(KN, C)
            t[a + "v_proj.weight"] = lin(KN, C)
            t[a + "o_proj.weight"] = lin(C, HN)
            if s.biases:
                t[a + "q_proj.bias"] = nrm(HN, std=0.1)
                t[a + "k_proj.bias"] = nrm(KN, std=0.1)
                t[a + "v_proj.bias"] = nrm(KN, std=0.1)
                t[a + "o_proj.bias"] = nrm(C, std=0.1)
            if s.qk_norms:
                t[a + "q_norm.weight"] = gamma(N)
                t[a + "k_norm.weight"] = gamma(N)
        else:
            t[a + "receptance.weight"] = lin(HN, C)
            t[a + "key.weight"] = lin(KN, C)
            t[a + "value.weight"] = lin(KN, C)
            t[a + "output.weight"] = lin(C, HN)
            if s.biases:
                t[a + "receptance.bias"] = nrm(HN, std=0.1)
                t[a + "key.bias"] = nrm(KN, std=0.1)
                t[a + "value.bias"] = nrm(KN, std=0.1)
                t[a + "output.bias"] = nrm(C, std=0.1)
            # decay bias spread over the channels, shuffled so every head gets a range
            lo, hi = s.w0_range
            t[a + "w0"] = rng.permutation(np.linspace(lo, hi, HN)).reshape(1, 1, HN) + nrm(1, 1, HN, std=0.05)
            t[a + "w1"] = nrm(C, Dw, std=1.0 / np.sqrt(C))
            t[a + "w2"] = nrm(Dw, HN, std=0.1 / np.sqrt(Dw))
            t[a + "a0"] = vec0(HN, 0.3)
            t[a + "a1"] = nrm(C, Da, std=1.0 / np.sqrt(C))
            t[a + "a2"] = nrm(Da, HN, std=0.1 / np.sqrt(Da))
            if l != l_first or s.mix_in_first:
                t[a + "v0"] = vec0(KN, 0.5)
                t[a + "v1"] = nrm(C, Dv, std=1.0 / np.sqrt(C))
                t[a + "v2"] = nrm(Dv, KN, std=0.1 / np.sqrt(Dv))
                t[a + "k0"] = vec0(KN, 0.5)
                t[a + "k1"] = nrm(C, Dk, std=1.0 / np.sqrt(C))
                t[a + "k2"] = nrm(Dk, KN, std=0.1 / np.sqrt(Dk))
            t[a + "g1"] = nrm(C, Dg, std=1.0 / np.sqrt(C))
            t[a + "g2"] = nrm(Dg, HN, std=1.0 / np.sqrt(Dg))
            t[a + "r_k"] = nrm(H, N, std=0.3)
            if s.rk_norms:
                t[a + "r_norm.weight"] = gamma(N)
                t[a + "k_norm.weight"] = gamma(N)
            if s.bookkeeping:
                t[a + "layer_architecture"] = np.array([78.0])
                t[a + "head_size_record"] = np.array([float(N)])
    return t


def hf_to_rwkv_style(name: str) -> str:
    """HF-style → RWKV-style names (SPEC §2.2)."""
    glob = {"model.embed_tokens.weight": "emb.weight", "model.norm.weight": "ln_out.weight",
            "lm_head.weight": "head.weight"}
    if name in glob:
        return glob[name]
    parts = name.split(".")
    i, rest = parts[2], ".".join(parts[3:])
    for hf, rw in [("input_layernorm.", "ln1."), ("post_attention_layernorm.", "ln2."),
                   ("mlp.gate_proj.", "ffn.gate."), ("mlp.up_proj.", "ffn.up."), ("mlp.down_proj.", "ffn.down."),
                   ("self_attn.r_norm.", "att.ln_r."), ("self_attn.q_norm.", "att.ln_r."),
                   ("self_attn.k_norm.", "att.ln_k."), ("self_attn.", "att.")]:
        if rest.startswith(hf):
            return f"blocks.{i}." + rw + rest[len(hf):]
    raise ValueError(name)


def config_json(s: RandomModelSpec) -> dict:
    cfg = {
        "architectures": ["RWKV079ForCausalLM"], "model_type": "hxa079",
        "hidden_size": s.hidden, "num_attention_heads": s.heads, "head_dim": s.head_dim,
        "num_key_value_heads": s.kv_heads, "intermediate_size": s.intermediate,
        "vocab_size": s.vocab, "num_hidden_layers": s.layers, "rms_norm_eps": s.eps,
        "rope_theta": s.theta, "tie_word_embeddings": bool(s.tied and s.tie_flag),
        "transformer_layers": sorted(s.gqa), "hidden_act": "silu", "rope_scaling": None,
    }
    if s.minimal_config:
        assert s.heads * s.head_dim == s.hidden and s.kv_heads == s.heads
        keep = ("hidden_size", "num_attention_heads", "intermediate_size", "vocab_size",
                "num_hidden_layers", "rms_norm_eps", "rope_theta")
        cfg = {k: cfg[k] for k in keep}
    if s.layer_types:
        cfg["layer_types"] = ["attention" if l in s.gqa else "rwkv" for l in range(s.layers)]
    return cfg


def write_model(outdir: str, s: RandomModelSpec) -> str:
    os.makedirs(outdir, exist_ok=True)
    t = build_tensors(s)
    bf16 = set()
    if s.dtype == "F64":
        t = {k: v.astype(np.float64) for k, v in t.items()}
    elif s.dtype == "F32":
        t = {k: v.astype(np.float32) for k, v in t.items()}
    elif s.dtype == "F16":
        t = {k: v.astype(np.float16) for k, v in t.items()}
    elif s.dtype == "BF16":
        t = {k: f32_to_bf16_bits(v.astype(np.float32)) for k, v in t.items()}
        bf16 = set(t)
    else:
        raise ValueError(s.dtype)
    if s.rwkv_style:
        t = {hf_to_rwkv_style(k): v for k, v in t.items()}
        bf16 = {hf_to_rwkv_style(k) for k in bf16}
    meta = {"format": "pt", "generator": "make_random_model.py", "seed": s.seed}
    for f in os.listdir(outdir):
        if f.endswith(".safetensors") or f.endswith(".index.json"):
            os.remove(os.path.join(outdir, f))
    if s.shards > 1:
        names = list(t)
        files = [f"model-{k + 1:05d}-of-{s.shards:05d}.safetensors" for k in range(s.shards)]
        weight_map = {n: files[i % s.shards] for i, n in enumerate(names)}
        for f in files:
            part = {n: t[n] for n in names if weight_map[n] == f}
            write_safetensors(os.path.join(outdir, f), part, bf16=bf16 & set(part), metadata=meta)
        with open(os.path.join(outdir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": int(sum(v.nbytes for v in t.values()))},
                       "weight_map": weight_map}, f, indent=2)
    else:
        write_safetensors(os.path.join(outdir, "model.safetensors"), t, bf16=bf16, metadata=meta)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(config_json(s), f, indent=2)
    with open(os.path.join(outdir, "random_model_spec.json"), "w") as f:
        json.dump(asdict(s), f, indent=2)
    return outdir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--kv-heads", type=int, default=1)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--intermediate", type=int, default=96)
    ap.add_argument("--vocab", type=int, default=97)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--gqa", default="", help="comma-separated GQA layer indices")
    ap.add_argument("--biases", action="store_true")
    ap.add_argument("--rk-norms", action="store_true")
    ap.add_argument("--qk-norms", action="store_true")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--tie-flag", action="store_true")
    ap.add_argument("--dtype", default="F64", choices=["F64", "F32", "F16", "BF16"])
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--theta", type=float, default=10000.0)
    ap.add_argument("--ranks", default="8,6,4,4,12", help="Dw,Da,Dv,Dk,Dg")
    ap.add_argument("--w0-range", default="-6,-1")
    ap.add_argument("--mix-in-first", action="store_true")
    ap.add_argument("--bookkeeping", action="store_true")
    ap.add_argument("--layer-types", action="store_true")
    ap.add_argument("--rwkv-style", action="store_true")
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--minimal-config", action="store_true")
    a = ap.parse_args()
    spec = RandomModelSpec(
        seed=a.seed, hidden=a.hidden, heads=a.heads, kv_heads=a.kv_heads, head_dim=a.head_dim,
        intermediate=a.intermediate, vocab=a.vocab, layers=a.layers,
        gqa=[int(x) for x in a.gqa.split(",") if x], biases=a.biases, rk_norms=a.rk_norms,
        qk_norms=a.qk_norms, tied=a.tied, tie_flag=a.tie_flag, dtype=a.dtype, eps=a.eps, theta=a.theta,
        ranks=tuple(int(x) for x in a.ranks.split(",")),
        w0_range=tuple(float(x) for x in a.w0_range.split(",")),
        mix_in_first=a.mix_in_first, bookkeeping=a.bookkeeping, layer_types=a.layer_types,
        rwkv_style=a.rwkv_style, shards=a.shards, minimal_config=a.minimal_config)
    print(write_model(a.outdir, spec))


if __name__ == "__main__":
    main()
