#!/usr/bin/env python3
"""Write small, structurally valid GGUF files whose *model* content is wrong, for
tests/unit/model/test_model_hostile.c: each must be refused by ol_model_load with a message
naming the problem. (Byte-level corruption of the container is covered by
tests/unit/format/test_gguf.c and the fuzz target; these files are valid GGUF.)

Output: tests/data/hostile/<case>.gguf plus tests/data/hostile/cases.txt, one line per case:
"<file> <substring the error message must contain>". Deterministic; needs numpy + gguf.
"""
import os
import numpy as np
import gguf

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "hostile")
D, F, H, HKV, HD, V, L = 32, 64, 2, 1, 16, 64, 1


def base_tensors():
    rng = np.random.default_rng(7)
    t = {"token_embd.weight": (V, D), "output_norm.weight": (D,)}
    for i in range(L):
        p = f"blk.{i}."
        t.update({p + "attn_norm.weight": (D,), p + "attn_q.weight": (H * HD, D),
                  p + "attn_k.weight": (HKV * HD, D), p + "attn_v.weight": (HKV * HD, D),
                  p + "attn_output.weight": (D, H * HD), p + "ffn_norm.weight": (D,),
                  p + "ffn_gate.weight": (F, D), p + "ffn_up.weight": (F, D),
                  p + "ffn_down.weight": (D, F)})
    return {k: rng.standard_normal(s).astype(np.float32) * 0.1 for k, s in t.items()}


def write(name, arch="llama", kv=None, tensors=None, drop=(), raw=None):
    w = gguf.GGUFWriter(os.path.join(OUT, name + ".gguf"), arch)
    meta = {"context_length": ("u32", 128), "embedding_length": ("u32", D),
            "block_count": ("u32", L), "feed_forward_length": ("u32", F),
            "attention.head_count": ("u32", H), "attention.head_count_kv": ("u32", HKV),
            "attention.layer_norm_rms_epsilon": ("f32", 1e-5), "rope.freq_base": ("f32", 1e4)}
    meta.update(kv or {})
    for k, (ty, v) in meta.items():
        if ty is None:
            continue
        key = f"{arch}.{k}"
        if ty == "u32":
            w.add_uint32(key, v)
        elif ty == "f32":
            w.add_float32(key, v)
        elif ty == "str":
            w.add_string(key, v)
        elif ty == "arr":
            w.add_array(key, v)
    ts = base_tensors()
    ts.update(tensors or {})
    for k, v in ts.items():
        if k in drop:
            continue
        if raw and k in raw:
            data, qtype = raw[k]
            w.add_tensor(k, data, raw_shape=data.shape, raw_dtype=qtype)
        else:
            w.add_tensor(k, v)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []

    def case(name, expect, **kw):
        write(name, **kw)
        cases.append(f"{name}.gguf {expect}")

    case("ok", "OK")
    case("unknown_arch", "architecture 'mamba' is not supported", arch="mamba")
    case("missing_tensor", "missing tensor 'blk.0.ffn_down.weight'", drop=("blk.0.ffn_down.weight",))
    case("wrong_shape", "tensor 'blk.0.attn_q.weight' has shape",
         tensors={"blk.0.attn_q.weight": np.zeros((H * HD + 1, D), np.float32)})
    case("missing_key", "missing key 'llama.embedding_length'", kv={"embedding_length": (None, 0)})
    case("key_wrong_type", "key 'llama.block_count' has type string",
         kv={"block_count": ("str", "one")})
    case("zero_heads", "inconsistent sizes", kv={"attention.head_count": ("u32", 0)})
    case("kv_heads_not_divisor", "inconsistent sizes",
         kv={"attention.head_count": ("u32", 3), "attention.head_count_kv": ("u32", 2)})
    case("absurd_layers", "inconsistent sizes", kv={"block_count": ("u32", 100000)})
    case("per_layer_arrays", "per-layer", kv={"feed_forward_length": ("arr", [F] * L)})
    case("bad_eps", "rms epsilon", kv={"attention.layer_norm_rms_epsilon": ("f32", -1.0)})
    case("nan_rope", "not finite", kv={"rope.freq_base": ("f32", float("nan"))})
    case("bad_rope_dims", "rope.dimension_count", kv={"rope.dimension_count": ("u32", 7)})
    case("norm_not_f32", "must be F32",
         tensors={"blk.0.attn_norm.weight": np.ones(D, np.float16)})
    # a Q2_K tensor: valid GGUF, a type this engine does not compute with
    q2k = np.zeros((V, 84 * (D * 8 // 256)), np.uint8)
    case("unsupported_type", "not supported",
         tensors={"token_embd.weight": np.zeros((V, D * 8), np.float32)},
         kv={"embedding_length": ("u32", D * 8)},
         raw={"token_embd.weight": (q2k, gguf.GGMLQuantizationType.Q2_K)})
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


if __name__ == "__main__":
    main()
