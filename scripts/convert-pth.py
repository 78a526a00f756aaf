#!/usr/bin/env python3
"""convert-pth.py IN.pth OUT_DIR — an hxa079 `.pth` checkpoint to a model directory (SPEC.md §2.9).

Usage:
  convert-pth.py IN.pth OUT_DIR [--shard-size BYTES] [--force] [--dtype keep|bf16|f32]
                 [--head-dim N] [--rms-norm-eps EPS] [--rope-theta THETA]
                 [--hxa079 PATH | --no-check]

Contract:
- Reads IN.pth with torch.load(mmap=True, map_location="cpu", weights_only=True): a zip-format
  state dict (what torch.save writes since PyTorch 1.6 and what OpenMOSE's
  ConvertToRWKVInfer_hybrid.py writes) of RWKV-style names (`emb.`, `blocks.N.att.`, …, the
  names RWKV-Infer loads) or HF-style names (`model.layers.N.self_attn.`, …, also with the
  training prefixes `model.model.` and `self_attn.student_attn.`). One scheme per file.
- Writes OUT_DIR: config.json + `model.safetensors` (one shard) or `model-0000k-of-0000n.safetensors`
  + `model.safetensors.index.json`, HF-style names (the package's internal scheme), shapes and bytes
  unchanged (no transposes, no reshapes) unless --dtype converts floating tensors (bf16: round to
  nearest even; f32: exact from bf16/f16). Tensors are copied in chunks of at most 64 MiB straight
  from the mapping, and the pages of a copied chunk are dropped again (madvise), so memory stays
  at about one chunk whatever the model size; the last line reports the peak.
- config.json is inferred from the shapes (C, V from the embedding; L from the layer indices; GQA
  layers = those with q_proj.weight; I from gate; N from r_k [H, N] or a per-head norm, else
  --head-dim; H, Hkv from the r/q and k rows). A .pth has no rms_norm_eps or rope_theta: they come
  from --rms-norm-eps / --rope-theta, defaulting to RWKV-Reka-3.1-Flash's 1e-5 / 8e6 (printed).
- The safetensors files are written here (8-byte length + JSON header + raw bytes), laid out as the
  reference writer does: tensors by descending dtype alignment then name, header padded with spaces to
  a multiple of 8 — the layout of the package's SafeTensorsHeader; scripts/pth-check.sh checks a file
  is byte-identical to what the `safetensors` package writes for the same tensors.
- Nothing is overwritten without --force: OUT_DIR must be absent or empty. With --force an earlier
  model in OUT_DIR (config.json, *.safetensors, the index) is removed as a whole first; a directory
  that holds anything else is refused (the rule of `hxa079 init-model`). Files are written under
  temporary names (`.NAME.tmp`) and renamed into place; a failed run removes them.
- Afterwards runs `hxa079 inspect --model OUT_DIR` (from --hxa079, $HXA079_BIN or PATH); without an
  executable it prints the command to run instead. --no-check skips it.
Exit status: 0 converted (and inspect passed); 1 bad input (unreadable or not a state dict, unknown
name, unsupported dtype, config not inferable) or a write error; 2 bad command line; 3 OUT_DIR refused
(not empty and no --force, or holding other files); 4 written but `hxa079 inspect` rejected it. Errors are one line on stderr.
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys

CHUNK_BYTES = 64 << 20
DEFAULT_SHARD_SIZE = 5_000_000_000  # the HF save_pretrained default ("5GB")
REKA_EPS, REKA_THETA = 1e-5, 8_000_000.0  # SPEC.md §1.5


class Failure(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------------------
# Names (the rules of SPEC.md §2.2 and Sources/Hxa079/TensorNames.swift `canonicalName`)

RWKV_GLOBAL = [("emb.", "model.embed_tokens."), ("ln_out.", "model.norm."), ("head.", "lm_head.")]
RWKV_FFN = {"gate": "gate_proj", "up": "up_proj", "down": "down_proj"}
# Training-process prefixes that TRN-HEAD's ConvertToRWKVInfer_hybrid_safetensor.py strips.
TRAINING_PREFIXES = [("model.model.", "model."), ("self_attn.student_attn.", "self_attn.")]
HF_LAYER = re.compile(r"^model\.layers\.(0|[1-9][0-9]*)\.(input_layernorm|post_attention_layernorm|mlp|self_attn)\.(.+)$")
RWKV_LAYER = re.compile(r"^blocks\.(0|[1-9][0-9]*)\.(ln1|ln2|ffn|att)\.(.+)$")


def scheme_of(names):
    hf, rwkv = "model.embed_tokens.weight" in names, "emb.weight" in names
    if hf and rwkv:
        raise Failure("both emb.weight and model.embed_tokens.weight are present: one naming scheme per file")
    if not hf and not rwkv:
        raise Failure("no embedding (emb.weight or model.embed_tokens.weight): not an hxa079 checkpoint")
    return "hf" if hf else "rwkv"


def strip_training_prefixes(name):
    for old, new in TRAINING_PREFIXES:
        if old == "model.model." and name.startswith(old):
            name = new + name[len(old):]
        elif old != "model.model.":
            name = name.replace(old, new)
    return name


def hf_name(name):
    """An HF-style name (training prefixes stripped), checked for the HF-style structure."""
    name = strip_training_prefixes(name)
    if name.startswith(("model.embed_tokens.", "model.norm.", "lm_head.")) or HF_LAYER.match(name):
        return name
    raise Failure(f"tensor {name!r} is not an HF-style hxa079 name (SPEC.md §2.2)")


def rwkv_to_hf(name, gqa_layers):
    """The HF-style name of an RWKV-style name; `ln_r` is q_norm in GQA layers, r_norm otherwise."""
    for old, new in RWKV_GLOBAL:
        if name.startswith(old):
            return new + name[len(old):]
    m = RWKV_LAYER.match(name)
    if not m:
        raise Failure(f"tensor {name!r} is not an RWKV-style hxa079 name (SPEC.md §2.2)")
    i, part, rest = int(m.group(1)), m.group(2), m.group(3)
    prefix = f"model.layers.{i}."
    if part in ("ln1", "ln2"):
        return prefix + ("input_layernorm." if part == "ln1" else "post_attention_layernorm.") + rest
    if part == "ffn":
        leaf, _, tail = rest.partition(".")
        if leaf not in RWKV_FFN or not tail:
            raise Failure(f"tensor {name!r}: unknown MLP tensor {leaf!r} (expected gate, up or down)")
        return prefix + "mlp." + RWKV_FFN[leaf] + "." + tail
    leaf, dot, tail = rest.partition(".")
    if leaf == "ln_r":
        leaf = "q_norm" if i in gqa_layers else "r_norm"
    elif leaf == "ln_k":
        leaf = "k_norm"
    return prefix + "self_attn." + leaf + dot + tail


def rwkv_gqa_layers(names):
    return {int(m.group(1)) for n in names if (m := RWKV_LAYER.match(n)) and m.group(2) == "att"
            and m.group(3) == "q_proj.weight"}


# ---------------------------------------------------------------------------------------------
# config.json from the shapes (SPEC.md §1.1)

def layer_index(name):
    m = HF_LAYER.match(name)
    return int(m.group(1)) if m else None


def infer_config(shapes, args):
    emb = shapes["model.embed_tokens.weight"]
    if len(emb) != 2:
        raise Failure(f"model.embed_tokens.weight has shape {list(emb)}; expected [V, C]")
    vocab, hidden = emb
    layers = sorted({i for n in shapes if (i := layer_index(n)) is not None})
    if not layers:
        raise Failure("no layer tensors (blocks.N.* / model.layers.N.*)")
    num_layers = layers[-1] + 1
    gqa = sorted(i for i in layers if f"model.layers.{i}.self_attn.q_proj.weight" in shapes)
    rwkv = [i for i in layers if i not in gqa]

    def first(leaf, among):
        for i in among:
            s = shapes.get(f"model.layers.{i}.{leaf}")
            if s is not None:
                return s
        return None

    gate = first("mlp.gate_proj.weight", layers)
    if gate is None or len(gate) != 2:
        raise Failure("cannot infer intermediate_size: no 2-D mlp gate weight (ffn.gate.weight / mlp.gate_proj.weight)")
    head_dim, source = args.head_dim, "--head-dim"
    r_k = first("self_attn.r_k", rwkv)
    if r_k is not None and len(r_k) == 2:
        if head_dim is not None and head_dim != r_k[1]:
            raise Failure(f"--head-dim {head_dim} disagrees with r_k of shape {list(r_k)} ([H, N])")
        head_dim, source = r_k[1], "r_k [H, N]"
    if head_dim is None:
        for leaf in ("self_attn.r_norm.weight", "self_attn.q_norm.weight", "self_attn.k_norm.weight"):
            s = first(leaf, layers)
            if s is not None and len(s) == 1:
                head_dim, source = s[0], leaf.split(".")[1]
                break
    if head_dim is None or head_dim <= 0:
        raise Failure("cannot infer head_dim (r_k is not [H, N] and no per-head norm is present); pass --head-dim N")

    def heads(leaf_rwkv, leaf_gqa, what):
        s = first(f"self_attn.{leaf_rwkv}", rwkv) or first(f"self_attn.{leaf_gqa}", gqa)
        if s is None or len(s) != 2:
            raise Failure(f"cannot infer {what}: no 2-D {leaf_rwkv} / {leaf_gqa}")
        if s[0] % head_dim:
            raise Failure(f"cannot infer {what}: {s[0]} rows of {leaf_rwkv}/{leaf_gqa} are not a multiple of head_dim {head_dim} ({source})")
        return s[0] // head_dim

    num_heads = heads("receptance.weight", "q_proj.weight", "num_attention_heads")
    num_kv = heads("key.weight", "k_proj.weight", "num_key_value_heads")
    config = {
        "architectures": ["RWKV079ForCausalLM"],
        "model_type": "hxa079",
        "hidden_size": hidden,
        "num_attention_heads": num_heads,
        "head_dim": head_dim,
        "num_key_value_heads": num_kv,
        "intermediate_size": gate[0],
        "vocab_size": vocab,
        "num_hidden_layers": num_layers,
        "rms_norm_eps": args.rms_norm_eps,
        "rope_theta": args.rope_theta,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "transformer_layers": gqa,
        "rwkv_architecture": "hxa079",  # RWKV-Infer's HF mode reads it (rwkvengine/rwkvcore.py)
    }
    return config, source


# ---------------------------------------------------------------------------------------------
# safetensors (the layout of Sources/SafeTensors/SafeTensorsHeader.swift)

def dtype_table(torch):
    # name, element size, reference rank (alignment order of the reference writer)
    return {torch.float16: ("F16", 2, 0), torch.bfloat16: ("BF16", 2, 1), torch.int32: ("I32", 4, 2),
            torch.float32: ("F32", 4, 3), torch.float64: ("F64", 8, 4), torch.int64: ("I64", 8, 5)}


def header_bytes(entries, metadata):
    """entries: list of (name, dtype_name, shape, nbytes) already in data order."""
    h = {"__metadata__": metadata}
    offset = 0
    for name, dt, shape, nbytes in entries:
        h[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(h, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw


class PageDropper:
    """Drops the pages of copied chunks of the mapped IN.pth (madvise MADV_DONTNEED): they are
    clean pages of a private file mapping, so a later access would read the file again."""

    def __init__(self, path):
        self.ranges = []
        try:
            real = os.path.realpath(path)
            with open("/proc/self/maps") as f:
                for line in f:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and parts[5].strip() == real:
                        lo, hi = (int(x, 16) for x in parts[0].split("-"))
                        self.ranges.append((lo, hi))
            self.libc = ctypes.CDLL(None, use_errno=True)
            self.libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            self.page = os.sysconf("SC_PAGE_SIZE")
        except (OSError, AttributeError, ValueError):
            self.ranges = []

    def drop(self, address, length):
        lo = -(-address // self.page) * self.page  # whole pages inside [address, address + length)
        hi = (address + length) // self.page * self.page
        if hi > lo and any(a <= lo and hi <= b for a, b in self.ranges):
            self.libc.madvise(lo, hi - lo, 4)  # MADV_DONTNEED


def peak_memory():
    """(RssAnon, VmHWM) in bytes from /proc/self/status (now, and the peak RSS so far); zeros elsewhere."""
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        kb = lambda k: int(fields.get(k, "0 kB").split()[0]) * 1024
        return kb("RssAnon"), kb("VmHWM")
    except OSError:
        return 0, 0


class Writer:
    def __init__(self, torch, dropper, out_dtype):
        self.torch, self.dropper, self.out_dtype = torch, dropper, out_dtype
        self.peak_anon = 0

    def stored_dtype(self, t):
        if self.out_dtype is not None and t.dtype.is_floating_point:
            return self.out_dtype
        return t.dtype

    def write_tensor(self, f, t):
        """Writes t's row-major bytes in the stored dtype, at most CHUNK_BYTES of source at a time."""
        target = self.stored_dtype(t)
        if t.is_contiguous():  # the usual case: consecutive slices of the mapping
            source = t.reshape(-1)
            step = max(1, CHUNK_BYTES // t.element_size())
        else:  # a strided view (torch.save keeps views): blocks of rows along dim 0, each copied
            source = t
            step = max(1, CHUNK_BYTES // max(1, t[0].numel() * t.element_size())) if t.shape[0] else 1
        for a in range(0, source.shape[0], step):
            piece = source[a:a + step]
            chunk = piece.contiguous().to(target)  # no copy when already contiguous in that dtype
            n = chunk.numel() * chunk.element_size()
            if n:  # the chunk's bytes in place (no numpy needed, no copy)
                f.write((ctypes.c_ubyte * n).from_address(chunk.data_ptr()))
            self.peak_anon = max(self.peak_anon, peak_memory()[0])
            if piece.is_contiguous():
                self.dropper.drop(piece.data_ptr(), piece.numel() * piece.element_size())


# ---------------------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        print(f"convert-pth: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def parse_args(argv):
    p = Parser(
        prog="convert-pth.py",
        description="Convert an RWKV-style (RWKV-Infer) or HF-style hxa079 .pth checkpoint to a sharded "
                    "safetensors model directory, then check it with `hxa079 inspect`.",
        epilog="Exit status: 0 done; 1 bad input or write error; 2 bad command line; "
               "3 OUT_DIR refused (not empty without --force, or holding other files); 4 `hxa079 inspect` rejected the result.")
    p.add_argument("input", metavar="IN.pth")
    p.add_argument("out", metavar="OUT_DIR")
    p.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="BYTES",
                   help=f"largest shard in bytes (a larger tensor gets a shard of its own); default {DEFAULT_SHARD_SIZE}")
    p.add_argument("--force", action="store_true", help="replace the model files already in OUT_DIR")
    p.add_argument("--dtype", choices=["keep", "bf16", "f32"], default="keep",
                   help="storage dtype of floating tensors (default keep: as in the .pth)")
    p.add_argument("--head-dim", type=int, metavar="N", help="head size N, needed when r_k is flattened and no per-head norm exists")
    p.add_argument("--rms-norm-eps", type=float, default=REKA_EPS, metavar="EPS",
                   help=f"RMSNorm epsilon (not in a .pth); default {REKA_EPS} (RWKV-Reka-3.1-Flash)")
    p.add_argument("--rope-theta", type=float, default=REKA_THETA, metavar="THETA",
                   help=f"RoPE base (not in a .pth); default {REKA_THETA:g} (RWKV-Reka-3.1-Flash)")
    check = p.add_mutually_exclusive_group()
    check.add_argument("--hxa079", metavar="PATH", help="the hxa079 executable for the check (default $HXA079_BIN, then PATH)")
    check.add_argument("--no-check", action="store_true", help="do not run `hxa079 inspect` afterwards")
    args = p.parse_args(argv)
    if args.shard_size <= 0:
        p.error(f"--shard-size must be positive, got {args.shard_size}")
    if not (args.rms_norm_eps > 0 and args.rms_norm_eps != float("inf")):
        p.error(f"--rms-norm-eps must be a positive finite number, got {args.rms_norm_eps}")
    if not (args.rope_theta > 0 and args.rope_theta != float("inf")):
        p.error(f"--rope-theta must be a positive finite number, got {args.rope_theta}")
    if args.head_dim is not None and args.head_dim <= 0:
        p.error(f"--head-dim must be positive, got {args.head_dim}")
    return args


def owned(entry):
    """An entry of a model directory this script writes (the rule of OutputKind.model in
    Sources/Hxa079Fixtures/OutputDirectory.swift, plus this script's temporary files)."""
    return entry in ("config.json", "model.safetensors.index.json") or entry.endswith(".safetensors") \
        or (entry.startswith(".") and entry.endswith(".tmp"))


def prepare_out(out, force):
    """OUT_DIR absent or empty; with --force an earlier model is removed as a whole first, and a
    directory that holds anything else is refused (init-model's and fixtures make's rule)."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise Failure(f"{out} exists and is not a directory", status=3)
    if not os.path.isdir(out):
        os.makedirs(out)
        return
    entries = sorted(os.listdir(out))
    if not entries:
        return
    listed = ", ".join(entries[:6]) + (", …" if len(entries) > 6 else "")
    foreign = [e for e in entries if not owned(e)]
    if not force:
        raise Failure(f"{out} already holds {'files' if foreign else 'a model'} ({listed}); pass --force to replace it, "
                      "or choose an empty directory", status=3)
    if foreign:
        raise Failure(f"{out} holds files that are not a model's ({', '.join(foreign[:6])}); --force replaces only a "
                      "model: choose an empty directory", status=3)
    for e in entries:
        path = os.path.join(out, e)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def load(torch, path):
    if not os.path.isfile(path):
        raise Failure(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # torch.save's zip format, the only one that can be memory-mapped
        if magic[:1] == b"\x80":
            raise Failure(f"{path}: legacy (pre-1.6, non-zip) torch.save format, which cannot be memory-mapped; "
                          "re-save it with torch.save (zip format)")
        raise Failure(f"{path}: not a PyTorch checkpoint (no zip signature)")
    try:
        obj = torch.load(path, mmap=True, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises RuntimeError, pickle.UnpicklingError, ValueError, …
        text = " ".join(str(e).split())
        raise Failure(f"{path}: cannot be read as a PyTorch checkpoint (damaged or truncated?): {text[:300]}")
    if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model", "module"):  # one level of wrapping (Lightning, DeepSpeed)
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise Failure(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")
    for k, v in obj.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise Failure(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
    return obj


def file_order(name):
    """HF order: the embedding, the layers by index (their tensors by name), the final norm, the head."""
    i = layer_index(name)
    if i is not None:
        return (1, i, name)
    return (0 if name.startswith("model.embed_tokens.") else 2 if name.startswith("model.norm.") else 3, 0, name)


def convert(args):
    try:
        import torch
    except ImportError:
        raise Failure("PyTorch is not installed in this Python (pip install torch)")
    if tuple(int(x) for x in re.findall(r"\d+", torch.__version__)[:2]) < (2, 1):
        raise Failure(f"PyTorch {torch.__version__} is too old: torch.load(mmap=True) needs 2.1 or later")
    baseline = peak_memory()[0]
    state = load(torch, args.input)
    names = list(state)
    scheme = scheme_of({strip_training_prefixes(n) for n in names})
    gqa = rwkv_gqa_layers(names) if scheme == "rwkv" else set()
    mapping = {n: rwkv_to_hf(n, gqa) if scheme == "rwkv" else hf_name(n) for n in names}
    if len(set(mapping.values())) != len(mapping):
        raise Failure("two tensors have the same HF-style name (e.g. with and without a training prefix)")
    table = dtype_table(torch)
    for n in names:
        if state[n].dtype not in table:
            raise Failure(f"tensor {n!r} has dtype {state[n].dtype}; supported: bfloat16, float16, float32, float64, int32, int64")
    shapes = {mapping[n]: tuple(state[n].shape) for n in names}
    config, head_source = infer_config(shapes, args)
    try:
        prepare_out(args.out, args.force)
    except OSError as e:
        raise Failure(f"preparing {args.out}: {e.strerror or e}")

    out_dtype = {"keep": None, "bf16": torch.bfloat16, "f32": torch.float32}[args.dtype]
    writer = Writer(torch, PageDropper(args.input), out_dtype)
    order = sorted(names, key=lambda n: file_order(mapping[n]))
    stored = {n: writer.stored_dtype(state[n]) for n in names}
    nbytes = {n: state[n].numel() * table[stored[n]][1] for n in names}
    shards, size = [[]], 0
    for n in order:
        if shards[-1] and size + nbytes[n] > args.shard_size:
            shards.append([])
            size = 0
        shards[-1].append(n)
        size += nbytes[n]
    count = len(shards)
    files = ["model.safetensors"] if count == 1 else [f"model-{k:05d}-of-{count:05d}.safetensors" for k in range(1, count + 1)]

    temps = []
    try:
        weight_map = {}
        for k, group in enumerate(shards):
            group = sorted(group, key=lambda n: (-table[stored[n]][2], mapping[n].encode("utf-8")))
            entries = [(mapping[n], table[stored[n]][0], state[n].shape, nbytes[n]) for n in group]
            temp = os.path.join(args.out, f".{files[k]}.tmp")
            temps.append(temp)
            with open(temp, "wb") as f:
                f.write(header_bytes(entries, {"format": "pt"}))
                for n in group:
                    writer.write_tensor(f, state[n])
                    weight_map[mapping[n]] = files[k]
                f.flush()
                os.fsync(f.fileno())
            print(f"wrote {files[k]}: {len(group)} tensors, {sum(nbytes[n] for n in group)} bytes of data")
        index = None
        if count > 1:
            index = {"metadata": {"total_size": sum(nbytes.values())},
                     "weight_map": dict(sorted(weight_map.items(), key=lambda kv: kv[0].encode("utf-8")))}
        for name, obj in (("model.safetensors.index.json", index), ("config.json", config)):
            if obj is not None:
                temp = os.path.join(args.out, f".{name}.tmp")
                temps.append(temp)
                with open(temp, "w") as f:
                    json.dump(obj, f, indent=2)
                    f.write("\n")
        for temp in temps:
            os.replace(temp, os.path.join(args.out, os.path.basename(temp)[1:-4]))
        temps = []
    except OSError as e:
        raise Failure(f"writing {args.out}: {e.strerror or e}")
    finally:
        for temp in temps:
            try:
                os.unlink(temp)
            except OSError:
                pass

    layer_map = "".join("A" if i in config["transformer_layers"] else "R" for i in range(config["num_hidden_layers"]))
    print(f"converted {len(names)} {'RWKV' if scheme == 'rwkv' else 'HF'}-style tensors of {args.input} to {args.out} "
          f"({count} shard{'s' if count > 1 else ''}, HF-style names, dtype {args.dtype})")
    print(f"config: C={config['hidden_size']} H={config['num_attention_heads']} N={config['head_dim']} "
          f"(from {head_source}) Hkv={config['num_key_value_heads']} I={config['intermediate_size']} "
          f"V={config['vocab_size']} L={config['num_hidden_layers']} layers {layer_map}")
    print(f"config: rms_norm_eps={args.rms_norm_eps:g} rope_theta={args.rope_theta:g} (not in a .pth: "
          f"{'RWKV-Reka-3.1-Flash defaults' if (args.rms_norm_eps, args.rope_theta) == (REKA_EPS, REKA_THETA) else 'as given'}; "
          f"--rms-norm-eps / --rope-theta to change)")
    anon, hwm = peak_memory()
    print(f"memory: peak RssAnon {max(anon, writer.peak_anon) / 2**20:.0f} MiB ({baseline / 2**20:.0f} MiB after "
          f"importing torch), VmHWM {hwm / 2**20:.0f} MiB (mapped pages included; sampled after each chunk of at most "
          f"{CHUNK_BYTES >> 20} MiB)")


def check(args):
    if args.no_check:
        print(f"check skipped; run: hxa079 inspect --model {args.out}")
        return
    exe = args.hxa079 or os.environ.get("HXA079_BIN") or shutil.which("hxa079")
    if not exe or not os.access(exe, os.X_OK):
        print(f"no hxa079 executable found; check the result with: hxa079 inspect --model {args.out}")
        return
    r = subprocess.run([exe, "inspect", "--model", args.out], capture_output=True, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        line = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
        raise Failure(f"hxa079 inspect rejected {args.out}: {line}", status=4)
    print(f"check: hxa079 inspect --model {args.out}: valid")


def main(argv):
    args = parse_args(argv)
    try:
        convert(args)
        check(args)
    except Failure as e:
        print(f"convert-pth: error: {e}", file=sys.stderr)
        return e.status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
