#!/usr/bin/env python3
"""Write hostile PEFT adapters for tests/unit/adapters/test_adapter_hostile.c, against the tiny
Llama fixture (tests/data/models/tiny_llama.gguf: hidden 128, 4 heads of 32, 2 kv heads, ffn
256, 2 layers). Each directory under tests/data/hostile_adapters/ must be refused by
ol_adapter_load with a message containing the text in cases.txt ("<dir> <text>"); "ok" must
load. Files are written with the `safetensors` package (and corrupted by hand where the case
is a broken file). Deterministic; needs numpy + safetensors.
"""
import json
import os
import shutil

import numpy as np
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "hostile_adapters")
D, QD, KVD, F, L = 128, 128, 64, 256, 2
P = "base_model.model.model.layers."


def cfg(**kw):
    c = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"],
         "bias": "none", "use_dora": False, "use_rslora": False, "modules_to_save": None,
         "task_type": "CAUSAL_LM"}
    c.update(kw)
    return c


def tensors(r=4, layer=0, dtype=np.float32):
    rng = np.random.default_rng(5)
    t = {}
    for name, (i, o) in {"self_attn.q_proj": (D, QD), "self_attn.v_proj": (D, KVD)}.items():
        t[f"{P}{layer}.{name}.lora_A.weight"] = (rng.standard_normal((r, i)) * 0.1).astype(dtype)
        t[f"{P}{layer}.{name}.lora_B.weight"] = (rng.standard_normal((o, r)) * 0.1).astype(dtype)
    return t


cases = []


def case(name, expect, config=None, ts=None, raw=None, files=None):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    if config is not False:
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            f.write(config if isinstance(config, str) else json.dumps(config or cfg()))
    if raw is not None:
        with open(os.path.join(d, "adapter_model.safetensors"), "wb") as f:
            f.write(raw)
    elif ts is not False:
        save_file(ts if ts is not None else tensors(), os.path.join(d, "adapter_model.safetensors"))
    for fn, data in (files or {}).items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    cases.append(f"{name} {expect}")


def main():
    os.makedirs(OUT, exist_ok=True)
    case("ok", "OK")
    t = tensors()
    t[f"{P}0.self_attn.q_proj.lora_B.weight"] = np.zeros((QD + 1, 4), np.float32)
    case("wrong_shape", "the model needs A [r, 128] and B [128, r]", ts=t)
    case("rank_zero", "rank 0", config=cfg(r=1), ts=tensors(r=0))
    case("rank_huge", "rank 300", config=cfg(r=300), ts=tensors(r=300, dtype=np.float16))
    t = tensors()
    t[f"{P}0.self_attn.v_proj.lora_A.weight"][1, 3] = np.nan
    case("nan", "NaN or Inf", ts=t)
    t = tensors()
    t[f"{P}0.self_attn.q_proj.lora_B.weight"][0, 0] = np.inf
    case("inf", "NaN or Inf", ts=t)
    good = os.path.join(OUT, "ok", "adapter_model.safetensors")
    blob = open(good, "rb").read()
    case("truncated", "safetensors", raw=blob[: len(blob) // 2])
    case("lying_header", "safetensors", raw=(len(blob) * 2).to_bytes(8, "little") + blob[8:])
    case("bad_json", "adapter_config.json", config='{"peft_type": "LORA", "r": 4,')
    case("config_not_lora", "LORA", config=cfg(peft_type="IA3"))
    t = tensors()
    t[f"{P}0.self_attn.rotary_emb.lora_A.weight"] = np.zeros((4, D), np.float32)
    t[f"{P}0.self_attn.rotary_emb.lora_B.weight"] = np.zeros((D, 4), np.float32)
    case("unknown_module", "which openlora does not support", ts=t)
    case("dora_config", "DoRA", config=cfg(use_dora=True))
    t = tensors()
    t[f"{P}0.self_attn.q_proj.lora_magnitude_vector"] = np.ones((QD,), np.float32)
    case("dora_tensor", "DoRA", ts=t)
    case("modules_to_save", "modules_to_save", config=cfg(modules_to_save=["lm_head"]))
    t = tensors()
    t["base_model.model.model.embed_tokens.lora_embedding_A"] = np.zeros((4, 512), np.float32)
    case("embedding", "embeddings", ts=t)
    t = tensors()
    t["base_model.model.lm_head.lora_A.weight"] = np.zeros((4, D), np.float32)
    t["base_model.model.lm_head.lora_B.weight"] = np.zeros((512, 4), np.float32)
    case("lm_head", "lm_head", ts=t)
    case("lora_bias", "bias", config=cfg(lora_bias=True))
    case("bias_all", "bias", config=cfg(bias="all"))
    t = tensors()
    del t[f"{P}0.self_attn.v_proj.lora_B.weight"]
    case("missing_b", "but not lora_B", ts=t)
    case("rank_mismatch", "config says 8", config=cfg(r=8))
    case("layer_out_of_range", "the model has 2", ts=tensors(layer=7))
    t = tensors()
    t[f"{P}0.self_attn.q_proj.lora_A.weight"] = np.zeros((4, D), np.int32)
    case("int_dtype", "F32, F16 or BF16", ts=t)
    case("pickle", "pickle", ts=False, files={"adapter_model.bin": b"\x80\x04\x95fake pickle"})
    case("no_config", "adapter_config.json", config=False)
    case("empty", "no LoRA tensors", ts={})
    case("foreign_tensor", "is not a PEFT LoRA weight", ts={"unrelated": np.zeros(1, np.float32)})
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
