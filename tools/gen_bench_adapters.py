#!/usr/bin/env python3
"""Random PEFT LoRA adapters for bench/lora.

For each base model (default: the two bench models in ~/.cache/openlora), each rank (8, 16) and
index i < N (32), writes

  ~/.cache/openlora/bench-adapters/<model>/r<rank>/<i>/adapter_config.json
  ~/.cache/openlora/bench-adapters/<model>/r<rank>/<i>/adapter_model.safetensors

with <model> the GGUF file name without ".gguf". Every adapter targets all linear layers of every
block (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj), lora_alpha = 2 r, no
dropout, bias "none"; tensors
  base_model.model.model.layers.N.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
  base_model.model.model.layers.N.mlp.{gate,up,down}_proj.lora_{A,B}.weight
with lora_A [r, in] and lora_B [out, r], small seeded random values, F16 by default (--dtype f32
for F32; openlora converts either to f32 at load, so the compute layout does not change).
Shapes come from the GGUF tensor table (blk.N.attn_q.weight etc., ne = [in, out]).
An adapter directory that already holds both files is skipped.

Usage: tools/gen_bench_adapters.py [--model PATH ...] [--ranks 8 16] [-n 32] [--dtype f16|f32]
       [--out DIR] [--force]
Requires: pip install gguf numpy safetensors
"""
import argparse
import json
import os
import sys

import numpy as np

CACHE = os.path.expanduser("~/.cache/openlora")
MODELS = [os.path.join(CACHE, "gemma-3-270m-q4_k_m.gguf"),
          os.path.join(CACHE, "llama-3.2-1b-shape-q8_0.gguf")]

# GGUF tensor name -> PEFT module path under model.layers.N
PROJ = [("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj"),
        ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"), ("ffn_down", "mlp.down_proj")]


def read_shapes(path, proj=PROJ):
    """[(layer, peft module, n_in, n_out)] for the projections `proj` (default: all seven) of
    every block."""
    from gguf import GGUFReader
    r = GGUFReader(path)
    ne = {t.name: [int(x) for x in t.shape] for t in r.tensors}
    out, il = [], 0
    while f"blk.{il}.attn_q.weight" in ne:
        for g, p in proj:
            n_in, n_out = ne[f"blk.{il}.{g}.weight"][:2]
            out.append((il, p, n_in, n_out))
        il += 1
    if not out:
        sys.exit(f"{path}: no blk.N.attn_q.weight tensors")
    return out


def write_adapter(d, shapes, rank, seed, dtype):
    from safetensors.numpy import save_file
    rng = np.random.default_rng(seed)
    np_dt = np.float16 if dtype == "f16" else np.float32
    tensors = {}
    for il, p, n_in, n_out in shapes:
        key = f"base_model.model.model.layers.{il}.{p}"
        a = rng.standard_normal((rank, n_in), dtype=np.float32) * (1.0 / np.sqrt(n_in))
        b = rng.standard_normal((n_out, rank), dtype=np.float32) * 0.01
        tensors[key + ".lora_A.weight"] = a.astype(np_dt)
        tensors[key + ".lora_B.weight"] = b.astype(np_dt)
    cfg = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 2 * rank,
        "lora_dropout": 0.0, "bias": "none", "use_rslora": False, "use_dora": False,
        "target_modules": sorted({p.split(".")[1] for _, p, _, _ in shapes}),
        "base_model_name_or_path": None, "fan_in_fan_out": False, "inference_mode": True,
    }
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, "adapter_model.safetensors.tmp")
    save_file(tensors, tmp)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    os.replace(tmp, os.path.join(d, "adapter_model.safetensors"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help="base GGUF (repeatable; default: both bench models)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[8, 16])
    ap.add_argument("-n", type=int, default=32, help="adapters per (model, rank)")
    ap.add_argument("--dtype", choices=["f16", "f32"], default="f16")
    ap.add_argument("--out", default=os.path.join(CACHE, "bench-adapters"))
    ap.add_argument("--force", action="store_true", help="rewrite existing adapters")
    a = ap.parse_args()
    for m in a.model or MODELS:
        if not os.path.exists(m):
            sys.exit(f"{m}: missing (tools/gen_llama1b.py makes the Llama-shaped one)")
        name = os.path.basename(m)
        name = name[:-5] if name.endswith(".gguf") else name
        shapes = read_shapes(m)
        for r in a.ranks:
            made = 0
            for i in range(a.n):
                d = os.path.join(a.out, name, f"r{r}", str(i))
                if not a.force and all(os.path.exists(os.path.join(d, f)) for f in
                                       ("adapter_config.json", "adapter_model.safetensors")):
                    continue
                write_adapter(d, shapes, r, seed=1000 * r + i, dtype=a.dtype)
                made += 1
            print(f"{name} r{r}: {made} written, {a.n - made} present "
                  f"({len(shapes)} modules, {os.path.join(a.out, name, f'r{r}')})")


if __name__ == "__main__":
    main()
