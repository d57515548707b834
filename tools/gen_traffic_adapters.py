#!/usr/bin/env python3
"""Random PEFT LoRA adapters for bench/traffic: many adapters of mixed rank on the attention.

For a base model (default: ~/.cache/openlora/gemma-3-270m-q4_k_m.gguf) and each index i < N
(1000), writes

  ~/.cache/openlora/traffic-adapters/<model>/<i>/adapter_config.json
  ~/.cache/openlora/traffic-adapters/<model>/<i>/adapter_model.safetensors

with <model> the GGUF file name without ".gguf". Adapter i has a rank drawn uniformly from
8..16 (seeded by i, so the same index always gets the same rank and weights), lora_alpha = 2 r,
no dropout, bias "none", and targets the four attention projections of every block:
  base_model.model.model.layers.N.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
with lora_A [r, in] and lora_B [out, r], small seeded random values, F16. Shapes come from the
GGUF tensor table as in tools/gen_bench_adapters.py (blk.N.attn_q.weight etc., ne = [in, out]).
An adapter directory that already holds both files is skipped (its rank is read back from its
adapter_config.json).

Also writes <out>/<model>/manifest.json: {"model", "n", "adapters": [{"name", "dir", "rank",
"f32_bytes"}...], "avg_f32_bytes"}, where f32_bytes = sum over the targeted modules of
r * (in + out) * 4, the size of the adapter in openlora's f32 compute layout (what the engine's
adapter cache budget counts). bench/traffic reads it to size the cache budgets.

Usage: tools/gen_traffic_adapters.py [--model PATH] [-n 1000] [--min-rank 8] [--max-rank 16]
       [--out DIR] [--force]
Requires: pip install gguf numpy safetensors
"""
import argparse
import json
import os
import sys

import numpy as np

CACHE = os.path.expanduser("~/.cache/openlora")
MODEL = os.path.join(CACHE, "gemma-3-270m-q4_k_m.gguf")

# GGUF tensor name -> PEFT module path under model.layers.N (attention only)
PROJ = [("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"),
        ("attn_v", "self_attn.v_proj"), ("attn_output", "self_attn.o_proj")]
FILES = ("adapter_config.json", "adapter_model.safetensors")


def read_shapes(path):
    """[(layer, peft module, n_in, n_out)] for the attention projections of every block."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gen_bench_adapters import read_shapes as read_all
    return read_all(path, PROJ)


def rank_of(i, lo, hi):
    return int(np.random.default_rng(7_000_000 + i).integers(lo, hi + 1))


def write_adapter(d, shapes, rank, seed):
    """The PEFT files of one adapter, as tools/gen_bench_adapters.py writes them (F16)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from gen_bench_adapters import write_adapter as write_peft
    write_peft(d, shapes, rank, seed, "f16")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=MODEL, help="base GGUF (default: gemma-3-270m Q4_K_M)")
    ap.add_argument("-n", type=int, default=1000, help="number of adapters")
    ap.add_argument("--min-rank", type=int, default=8)
    ap.add_argument("--max-rank", type=int, default=16)
    ap.add_argument("--out", default=os.path.join(CACHE, "traffic-adapters"))
    ap.add_argument("--force", action="store_true", help="rewrite existing adapters")
    a = ap.parse_args()
    if not os.path.exists(a.model):
        sys.exit(f"{a.model}: missing (scripts/fetch_model.sh, or bench/traffic assembles it)")
    if not 1 <= a.min_rank <= a.max_rank:
        sys.exit("need 1 <= --min-rank <= --max-rank")
    name = os.path.basename(a.model)
    name = name[:-5] if name.endswith(".gguf") else name
    shapes = read_shapes(a.model)
    per_rank = sum(n_in + n_out for _, _, n_in, n_out in shapes) * 4
    root = os.path.join(a.out, name)
    made, entries = 0, []
    for i in range(a.n):
        d = os.path.join(root, str(i))
        if not a.force and all(os.path.exists(os.path.join(d, f)) for f in FILES):
            with open(os.path.join(d, "adapter_config.json")) as f:
                rank = int(json.load(f)["r"])
        else:
            rank = rank_of(i, a.min_rank, a.max_rank)
            write_adapter(d, shapes, rank, seed=9_000_000 + i)
            made += 1
            if made % 100 == 0:
                print(f"  {made} written...", file=sys.stderr, flush=True)
        entries.append({"name": f"t{i:04d}", "dir": str(i), "rank": rank,
                        "f32_bytes": rank * per_rank})
    avg = sum(e["f32_bytes"] for e in entries) / max(1, len(entries))
    manifest = {"model": name, "n": a.n, "modules": len(shapes), "avg_f32_bytes": avg,
                "adapters": entries}
    tmp = os.path.join(root, "manifest.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, os.path.join(root, "manifest.json"))
    print(f"{name}: {made} written, {a.n - made} present ({len(shapes)} modules, "
          f"average {avg / 1e6:.2f} MB in f32 compute layout, {root})")


if __name__ == "__main__":
    main()
