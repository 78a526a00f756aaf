#!/usr/bin/env python3
"""pth_roundtrip.py — the Python half of scripts/pth-check.sh: the .pth converter round trip.

  pth_roundtrip.py check HXA079 WORKDIR      the round trips and the bad-input cases (CI-sized)
  pth_roundtrip.py measure HXA079 WORKDIR [PRESET [LAYERS]]
      exports a bf16 RWKV-style init-model (default preset medium, ≈413 MB), converts it in a child
      process and prints the converter's memory line, /usr/bin/time's maximum RSS and the wall time

Contract (check):
- Random models come from `HXA079 init-model --preset tiny --dtype bf16 --rk-norms --qk-norms`
  (4 layers RRAR, C 64, H 4 × N 16, Hkv 2), written HF-style (the reference) and with
  `--naming rwkv`: RWKV-style names made by Swift's TensorName.rwkvStyleName, the inverse of the
  converter's mapping, written independently of it.
- `export` reads a model directory with the reference `safetensors` package and writes its tensors
  with torch.save (zip format, natural name order), as ConvertToRWKVInfer_hybrid.py does; options
  rename to the training-process names (`model.model.layers.N.self_attn.student_attn.*`), store the
  LoRA `*1` matrices as transposed views (torch.save keeps strides), flatten r_k to [H·N], add a
  tensor, or write the legacy non-zip format.
- Round trips: RWKV-style (through the command line, several shards), HF-style, training names,
  --dtype f32. Each converted directory must hold exactly the reference's tensors bit for bit
  (names, dtypes, shapes, bytes; f32: the reference widened), config.json must agree on every
  field the package reads, `hxa079 inspect` must pass (the converter runs it), and for the RWKV-style
  trip `hxa079 forward` logits must be bitwise identical to the reference's.
- The one-file output is byte-identical to what `safetensors.torch.save` writes for the same
  tensors and metadata (the reference writer's layout).
- Bad input: each case must return its documented exit status with exactly one line on stderr
  naming the problem, and a refused conversion must leave OUT_DIR untouched.
The converter runs in this process (importlib) except for the first trip, to import torch once.
Prints one line per check; exits 1 at the first failure.
"""
import contextlib
import glob
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import OrderedDict

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "convert-pth.py")
_spec = importlib.util.spec_from_file_location("convert_pth", CONVERTER)
convert_pth = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(convert_pth)


def fail(message):
    print("FAIL " + message)
    sys.exit(1)


def natural_key(name):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def read_dir(d):
    out = {}
    for path in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        with safe_open(path, framework="pt") as f:
            for k in f.keys():
                if k in out:
                    fail(f"{k} appears twice in {d}")
                out[k] = f.get_tensor(k)
    return out


def export(src, dst, training_prefixes=False, strided=False, flatten_rk=False, extra=None, legacy=False):
    tensors = read_dir(src)
    state = OrderedDict()
    for name in sorted(tensors, key=natural_key):
        t = tensors[name]
        if training_prefixes and name.startswith("model.layers."):
            name = "model." + name.replace(".self_attn.", ".self_attn.student_attn.")
        if strided and t.dim() == 2 and re.search(r"\.[wavkg]1$", name):
            t = t.t().contiguous().t()
            assert not t.is_contiguous()
        if flatten_rk and name.endswith(".r_k"):
            t = t.reshape(-1)
        state[name] = t
    if extra:
        name, dtype = extra
        state[name] = torch.zeros(4, dtype=dtype)
    torch.save(state, dst, _use_new_zipfile_serialization=not legacy)
    return dst


def same_bytes(a, b):
    return torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


CONFIG_FIELDS = ("hidden_size", "num_attention_heads", "head_dim", "num_key_value_heads", "intermediate_size",
                 "vocab_size", "num_hidden_layers", "rms_norm_eps", "rope_theta", "tie_word_embeddings",
                 "transformer_layers")


def compare(ref_dir, got_dir, widen=False, flat_rk=False):
    ref, got = read_dir(ref_dir), read_dir(got_dir)
    problems = [f"{n}: missing" for n in ref if n not in got] + [f"{n}: unexpected" for n in got if n not in ref]
    for name in ref:
        if name not in got:
            continue
        a, b = ref[name], got[name]
        if widen and a.dtype.is_floating_point:
            a = a.to(torch.float32)  # exact from bf16
        if flat_rk and name.endswith(".r_k"):
            a = a.reshape(-1)
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: {b.dtype} {list(b.shape)}, expected {a.dtype} {list(a.shape)}")
        elif not same_bytes(a, b):
            problems.append(f"{name}: bytes differ")
    with open(os.path.join(ref_dir, "config.json")) as f:
        rc = json.load(f)
    with open(os.path.join(got_dir, "config.json")) as f:
        gc = json.load(f)
    problems += [f"config.json {k}: {gc.get(k)!r}, expected {rc.get(k)!r}" for k in CONFIG_FIELDS if rc.get(k) != gc.get(k)]
    if problems:
        fail(f"{got_dir} vs {ref_dir}: " + "; ".join(problems[:10]))
    print(f"ok   {os.path.basename(got_dir)}: {len(ref)} tensors equal to {os.path.basename(ref_dir)}'s bit for bit, config agrees")


def run_converter(argv):
    """(status, stdout, stderr) of convert-pth.py main(argv), in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = convert_pth.main(argv)
        except SystemExit as e:  # argparse
            status = e.code
    return status, out.getvalue(), err.getvalue()


def converted(argv):
    status, out, err = run_converter(argv)
    if status != 0:
        fail(f"convert-pth.py {' '.join(argv)}: exit {status}: {err.strip()}")
    return out


def expect(status, pattern, argv):
    got, _, err = run_converter(argv)
    lines = err.strip().splitlines()
    if got != status or len(lines) != 1 or pattern not in lines[0]:
        fail(f"convert-pth.py {' '.join(argv)}: expected exit {status} and one stderr line with {pattern!r}, "
             f"got exit {got}: {err.strip()!r}")
    print(f"ok   exit {got}: {lines[0]}")


def logits(exe, model, dump):
    subprocess.run([exe, "forward", "--model", model, "--tokens", "1,7,42,255,3", "--dump", dump,
                    "--checkpoints", "logits"], check=True, stdout=subprocess.DEVNULL)
    with safe_open(dump, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def init_model(exe, out, *flags):
    subprocess.run([exe, "init-model", "--preset", "tiny", "--dtype", "bf16", "--out", out, *flags],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def check(exe, work):
    j = lambda *p: os.path.join(work, *p)
    tiny = ["--rms-norm-eps", "1e-5", "--rope-theta", "10000", "--hxa079", exe]  # a .pth carries neither
    norms = ["--rk-norms", "--qk-norms"]
    hf = init_model(exe, j("hf"), *norms)
    rwkv = init_model(exe, j("rwkv"), *norms, "--naming", "rwkv")

    # 1. RWKV-style (RWKV-Infer's names), through the command line, several shards.
    pth = export(rwkv, j("rwkv-style.pth"), strided=True)
    r = subprocess.run([sys.executable, CONVERTER, pth, j("rwkv-style"), "--shard-size", "60000", *tiny],
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"convert-pth.py (command line): exit {r.returncode}: {r.stderr.strip()}")
    print("     " + "\n     ".join(r.stdout.strip().splitlines()))
    shards = glob.glob(j("rwkv-style", "model-*-of-*.safetensors"))
    if len(shards) < 2 or not os.path.exists(j("rwkv-style", "model.safetensors.index.json")):
        fail(f"expected several shards and an index, got {os.listdir(j('rwkv-style'))}")
    compare(hf, j("rwkv-style"))
    a, b = logits(exe, hf, j("ref.logits.safetensors")), logits(exe, j("rwkv-style"), j("logits.safetensors"))
    if not a or a.keys() != b.keys() or not all(same_bytes(a[k], b[k]) for k in a):
        fail("forward logits of the converted model differ from the reference's")
    print(f"ok   forward logits identical ({', '.join(f'{k} {list(v.shape)}' for k, v in a.items())})")

    # 2. HF-style names, and the training-process names.
    converted([export(hf, j("hf-style.pth")), j("hf-style"), *tiny])
    compare(hf, j("hf-style"))
    with open(j("hf-style", "model.safetensors"), "rb") as f:
        if f.read() != safetensors_save(read_dir(hf), metadata={"format": "pt"}):
            fail("the converter's model.safetensors differs from what safetensors.torch.save writes")
    print("ok   hf-style/model.safetensors is byte-identical to safetensors.torch.save of the same tensors")
    converted([export(hf, j("training.pth"), training_prefixes=True), j("training"), "--shard-size", "100000", *tiny])
    compare(hf, j("training"))
    converted([pth, j("f32"), "--dtype", "f32", *tiny])
    compare(hf, j("f32"), widen=True)

    # 3. Bad input.
    with open(j("garbage.pth"), "wb") as f:
        f.write(os.urandom(4096))
    expect(1, "not a PyTorch checkpoint", [j("garbage.pth"), j("x"), *tiny])
    with open(j("truncated.pth"), "wb") as f, open(pth, "rb") as g:
        f.write(g.read(20000))
    expect(1, "cannot be read as a PyTorch checkpoint", [j("truncated.pth"), j("x"), *tiny])
    expect(1, "no such file", [j("absent.pth"), j("x"), *tiny])
    expect(1, "legacy", [export(rwkv, j("legacy.pth"), legacy=True), j("x"), *tiny])
    before = {n: os.path.getmtime(j("hf-style", n)) for n in os.listdir(j("hf-style"))}
    expect(3, "already holds a model", [pth, j("hf-style"), *tiny])
    if before != {n: os.path.getmtime(j("hf-style", n)) for n in os.listdir(j("hf-style"))}:
        fail("a refused conversion changed the output directory")
    converted([pth, j("rwkv-style"), "--force", *tiny])  # was 5 shards, now one file
    left = sorted(os.listdir(j("rwkv-style")))
    if left != ["config.json", "model.safetensors"]:
        fail(f"--force left {left}")
    compare(hf, j("rwkv-style"))
    with open(j("rwkv-style", "notes.txt"), "w") as f:
        f.write("a user's file\n")
    expect(3, "not a model's (notes.txt)", [pth, j("rwkv-style"), "--force", *tiny])
    if not os.path.exists(j("rwkv-style", "model.safetensors")):
        fail("a refused --force removed the model")
    for extra, status, pattern in [(("blocks.0.ffn.gate_up.weight", torch.bfloat16), 1, "unknown MLP tensor 'gate_up'"),
                                   (("model.layers.0.mlp.up_proj.weight", torch.bfloat16), 1, "not an RWKV-style hxa079 name"),
                                   (("blocks.0.att.layer_architecture", torch.int8), 1, "dtype torch.int8"),
                                   (("model.embed_tokens.weight", torch.bfloat16), 1, "one naming scheme per file"),
                                   (("blocks.0.att.bogus", torch.bfloat16), 4, "unexpected tensor model.layers.0.self_attn.bogus")]:
        bad = export(rwkv, j("bad.pth"), extra=extra)
        shutil.rmtree(j("bad"), ignore_errors=True)
        expect(status, pattern, [bad, j("bad"), *tiny])
    expect(2, "invalid choice", [pth, j("x"), "--dtype", "f16"])
    expect(2, "--shard-size must be positive", [pth, j("x"), "--shard-size", "0"])
    plain = init_model(exe, j("plain"), "--naming", "rwkv")  # no per-head norms
    flat = export(plain, j("flat.pth"), flatten_rk=True)
    expect(1, "pass --head-dim", [flat, j("x"), *tiny])
    converted([flat, j("flat"), "--head-dim", "16", *tiny])
    compare(init_model(exe, j("plain-hf")), j("flat"), flat_rk=True)
    print("pth round trip: PASS")


def measure(exe, work, preset="medium", *layers):
    j = lambda *p: os.path.join(work, *p)
    subprocess.run([exe, "init-model", "--preset", preset, "--dtype", "bf16", "--naming", "rwkv", "--out", j("model"),
                    *(["--layers", layers[0]] if layers else [])], check=True, stdout=subprocess.DEVNULL)
    pth = export(j("model"), j("model.pth"))
    shutil.rmtree(j("model"))
    print(f"{preset} {'(' + layers[0] + ' layers) ' if layers else ''}.pth: {os.path.getsize(pth)} bytes")
    start = time.time()
    theta = {"medium": "1000000", "reka": "8000000"}.get(preset, "10000")
    r = subprocess.run(["/usr/bin/time", "-f", "/usr/bin/time: maximum RSS %M KB", sys.executable, CONVERTER, pth,
                        j("model-out"), "--rope-theta", theta, "--no-check"], capture_output=True, text=True)
    print(r.stdout.strip())
    print(r.stderr.strip())
    print(f"wall {time.time() - start:.1f} s (torch import included)")
    sys.exit(r.returncode)


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("check", "measure") or (sys.argv[1] == "check" and len(sys.argv) != 4):
        raise SystemExit("usage: pth_roundtrip.py check HXA079 WORKDIR | measure HXA079 WORKDIR [PRESET [LAYERS]]")
    {"check": check, "measure": measure}[sys.argv[1]](*sys.argv[2:])
