#!/usr/bin/env python3
"""Generate tiny random-weight test models and their golden logits.

Produces, under tests/data/models/:
  tiny_llama.gguf        arch llama, F32, d=128, H=4, Hkv=2, D=32, F=256, 2 layers, V=512, tied
  tiny_llama_q8_0.gguf   same HF model, 2-D projections + token_embd quantized to Q8_0
  tiny_llama_q4_k.gguf   arch llama, d=256, H=4, Hkv=2, D=64, F=512, 1 layer, V=512, tied,
                         Q4_K weights with Q6_K for attn_v / ffn_down / token_embd (a Q4_K_M-like mix)
  tiny_qwen2.gguf        arch qwen2, q/k/v biases, untied output.weight, d=128, H=4, Hkv=2, D=32,
                         F=256, 2 layers, V=512, theta 1e6; 2-D weights F16, norms/biases F32
  tiny_gemma3.gguf       arch gemma3, d=128, H=4, Hkv=1, D=32, F=256, 4 layers, V=512, window 4,
                         sliding_window_pattern 2 (layers 0, 2 slide; 1, 3 global); 2-D weights F16
  <name>.logits.txt      golden logits for every position of 3 token sequences (lengths 1, 7, 13)

Source of truth: HF transformers (torch float32, eager attention) running the same random weights.
For the quantized files the HF model is loaded with the weights obtained by dequantizing the stored
blocks with gguf-py (gguf.quants.dequantize), so the goldens check quantized inference against HF.
The HF -> GGUF conversion is done here, following llama.cpp's converter rules (tensor names,
ne = reversed numpy shape, llama q/k row permutation, gemma3 norm weights + 1, metadata keys).
Q8_0 blocks come from gguf.quants.quantize; Q4_K / Q6_K blocks come from a small numpy encoder in
this file (gguf-py 0.19 only implements their dequantization); their values are defined by
gguf-py's decoder, which is what the golden uses.

Logits file format (text):
  openlora-logits 1
  n_seqs 3
  seq <n_tokens> <n_vocab>
  <n_tokens token ids separated by spaces>
  <n_tokens lines, each n_vocab floats in %.6e separated by spaces>
  seq ...

Run from the repository root:  python3 tools/gen_tiny_models.py [--check-llamacpp]
--check-llamacpp additionally loads every written GGUF in llama.cpp (llama-cpp-python) and prints
its deviation from the HF goldens (a check of the converter, not a source of goldens).
Deterministic: fixed seeds, CPU torch.
"""
import os
import sys

import numpy as np
import torch

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import quants

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "models")
SEQ_LENS = (1, 7, 13)

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------------------------
# HF model construction
# ----------------------------------------------------------------------------------------------

def _randomize(model, seed, std=0.06, emb_std=0.1, norm_kind="llama", bias_std=0.1):
    """Overwrite every parameter with deterministic random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name:
                if norm_kind == "gemma":
                    # HF gemma multiplies by (1 + w); w random around 0
                    p.copy_(0.3 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.5 + torch.rand(p.shape, generator=g))  # in [0.5, 1.5)
            elif name.endswith(".bias"):
                p.copy_(bias_std * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(emb_std * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))
    return model


def make_llama(hidden=128, ffn=256, heads=4, kv_heads=2, layers=2, vocab=512, seed=1):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=ffn, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=hidden // heads,
        max_position_embeddings=2048, rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True, attention_bias=False, mlp_bias=False, hidden_act="silu",
        attn_implementation="eager", bos_token_id=1, eos_token_id=2, pad_token_id=None)
    torch.manual_seed(seed)
    m = LlamaForCausalLM(cfg).float().eval()
    _randomize(m, seed, std=0.08 if hidden <= 128 else 0.06)
    return m


def make_qwen2(seed=2):
    from transformers import Qwen2Config, Qwen2ForCausalLM
    cfg = Qwen2Config(
        vocab_size=512, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=False, use_sliding_window=False, hidden_act="silu",
        attn_implementation="eager", bos_token_id=1, eos_token_id=2, pad_token_id=None)
    torch.manual_seed(seed)
    m = Qwen2ForCausalLM(cfg).float().eval()
    _randomize(m, seed, std=0.08)
    # all q/k/v biases must be present and non-zero
    for i, layer in enumerate(m.model.layers):
        a = layer.self_attn
        assert a.q_proj.bias is not None and a.k_proj.bias is not None and a.v_proj.bias is not None
        assert a.o_proj.bias is None
    return m


GEMMA_WINDOW = 4
GEMMA_PATTERN = 2  # llama.cpp: layer il slides iff il % P < P - 1


def make_gemma3(seed=3, sliding_window=GEMMA_WINDOW):
    from transformers import Gemma3TextConfig, Gemma3ForCausalLM
    layers = 4
    layer_types = ["sliding_attention" if (il % GEMMA_PATTERN) < GEMMA_PATTERN - 1 else "full_attention"
                   for il in range(layers)]
    cfg = Gemma3TextConfig(
        vocab_size=512, hidden_size=128, intermediate_size=256, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32,
        max_position_embeddings=2048, rms_norm_eps=1e-6, sliding_window=sliding_window,
        layer_types=layer_types,
        rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
        final_logit_softcapping=None, attn_logit_softcapping=None,
        attn_implementation="eager", bos_token_id=2, eos_token_id=1, pad_token_id=0)
    torch.manual_seed(seed)
    m = Gemma3ForCausalLM(cfg).float().eval()
    _randomize(m, seed, std=0.08, emb_std=0.1, norm_kind="gemma")
    assert list(m.config.layer_types) == layer_types, m.config.layer_types
    return m


# ----------------------------------------------------------------------------------------------
# HF -> GGUF conversion (llama.cpp converter rules)
# ----------------------------------------------------------------------------------------------

def llama_permute(w, n_head):
    """llama.cpp LlamaModel.permute: GGUF row 2i+s = HF row s*D/2 + i inside each head."""
    shp = w.shape
    return (w.reshape(n_head, 2, shp[0] // n_head // 2, *shp[1:])
             .swapaxes(1, 2).reshape(shp))


def llama_unpermute(w, n_head):
    shp = w.shape
    return (w.reshape(n_head, shp[0] // n_head // 2, 2, *shp[1:])
             .swapaxes(1, 2).reshape(shp))


_LAYER_MAP_COMMON = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
}


def gguf_name(hf_name, arch):
    if hf_name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf_name == "lm_head.weight":
        return "output.weight"
    if hf_name == "model.norm.weight":
        return "output_norm.weight"
    assert hf_name.startswith("model.layers."), hf_name
    rest = hf_name[len("model.layers."):]
    il, sub = rest.split(".", 1)
    if sub == "post_attention_layernorm.weight":
        tn = "post_attention_norm.weight" if arch == "gemma3" else "ffn_norm.weight"
    elif sub == "pre_feedforward_layernorm.weight":
        tn = "ffn_norm.weight"
    elif sub == "post_feedforward_layernorm.weight":
        tn = "post_ffw_norm.weight"
    else:
        tn = _LAYER_MAP_COMMON[sub]
    return f"blk.{il}.{tn}"


class Converted:
    """One GGUF tensor: name, numpy data in GGUF row order (HF shape), and how to map back."""

    def __init__(self, gname, hf_name, data, permute_heads=0, norm_shift=False):
        self.gname, self.hf_name, self.data = gname, hf_name, data
        self.permute_heads, self.norm_shift = permute_heads, norm_shift

    def to_hf(self, arr):
        """Inverse transform: GGUF-order values -> HF parameter values."""
        if self.norm_shift:
            arr = arr - 1.0
        if self.permute_heads:
            arr = llama_unpermute(arr, self.permute_heads)
        return arr


def convert_tensors(model, arch):
    cfg = model.config
    sd = model.state_dict()
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    out = []
    for hf_name, t in sd.items():
        if hf_name == "lm_head.weight" and tied:
            continue
        if "rotary_emb" in hf_name:
            continue
        data = t.detach().cpu().float().numpy().copy()
        gname = gguf_name(hf_name, arch)
        perm = 0
        shift = False
        if arch == "llama" and (".self_attn.q_proj." in hf_name):
            perm = cfg.num_attention_heads
        elif arch == "llama" and (".self_attn.k_proj." in hf_name):
            perm = cfg.num_key_value_heads
        if perm:
            data = llama_permute(data, perm)
        if arch == "gemma3" and hf_name.endswith("norm.weight"):
            data = data + 1.0
            shift = True
        out.append(Converted(gname, hf_name, np.ascontiguousarray(data, dtype=np.float32), perm, shift))
    return out


def write_gguf(path, model, arch, tensors, qtypes=None, file_type=0):
    """tensors: list of Converted; qtypes: dict gname -> GGMLQuantizationType (default F32)."""
    cfg = model.config
    qtypes = qtypes or {}
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    w = gguf.GGUFWriter(path, arch)  # writes general.architecture
    w.add_name(os.path.splitext(os.path.basename(path))[0])
    w.add_uint32("general.file_type", file_type)
    w.add_uint32("general.quantization_version", gguf.GGML_QUANT_VERSION)
    w.add_uint32(f"{arch}.context_length", 2048)
    w.add_uint32(f"{arch}.embedding_length", cfg.hidden_size)
    w.add_uint32(f"{arch}.block_count", cfg.num_hidden_layers)
    w.add_uint32(f"{arch}.feed_forward_length", cfg.intermediate_size)
    w.add_uint32(f"{arch}.attention.head_count", cfg.num_attention_heads)
    w.add_uint32(f"{arch}.attention.head_count_kv", cfg.num_key_value_heads)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", float(cfg.rms_norm_eps))
    w.add_uint32(f"{arch}.vocab_size", cfg.vocab_size)
    if arch == "gemma3":
        rp = cfg.rope_parameters
        w.add_float32(f"{arch}.rope.freq_base", float(rp["full_attention"]["rope_theta"]))
        w.add_float32(f"{arch}.rope.freq_base_swa", float(rp["sliding_attention"]["rope_theta"]))
        w.add_uint32(f"{arch}.attention.key_length", head_dim)
        w.add_uint32(f"{arch}.attention.value_length", head_dim)
        w.add_uint32(f"{arch}.attention.sliding_window", int(cfg.sliding_window))
        w.add_uint32(f"{arch}.attention.sliding_window_pattern", GEMMA_PATTERN)
    else:
        w.add_float32(f"{arch}.rope.freq_base", float(cfg.rope_parameters["rope_theta"]))
        w.add_uint32(f"{arch}.rope.dimension_count", head_dim)
        if arch == "llama":
            w.add_uint32(f"{arch}.attention.key_length", head_dim)
            w.add_uint32(f"{arch}.attention.value_length", head_dim)
    w.add_string("tokenizer.ggml.model", "none")
    for t in tensors:
        qt = qtypes.get(t.gname, QT.F32)
        if qt == QT.F32:
            w.add_tensor(t.gname, t.data)
        elif qt == QT.F16:
            w.add_tensor(t.gname, t.data.astype(np.float16))
        else:
            w.add_tensor(t.gname, quantize(t.data, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------------------------
# Quantization (Q8_0 via gguf-py; Q4_K / Q6_K via a small numpy encoder)
# ----------------------------------------------------------------------------------------------

def _f16(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def quantize_q4_k(x):
    """Encode rows (multiple of 256) as Q4_K blocks. Simple min/max fit per 32-element sub-block."""
    rows, n = x.shape
    assert n % 256 == 0
    b = x.reshape(-1, 8, 32).astype(np.float32)          # blocks, sub, 32
    nb = b.shape[0]
    mn = np.minimum(b.min(axis=2), 0.0)                  # <= 0
    mx = b.max(axis=2)
    scale = (mx - mn) / 15.0                              # >= 0
    mins = -mn                                            # >= 0
    d = _f16(scale.max(axis=1) / 63.0)                    # (nb,)
    dmin = _f16(mins.max(axis=1) / 63.0)
    df, dminf = d.astype(np.float32), dmin.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.rint(scale / df[:, None]), 0).clip(0, 63).astype(np.uint8)
        mq = np.where(dminf[:, None] > 0, np.rint(mins / dminf[:, None]), 0).clip(0, 63).astype(np.uint8)
        es = df[:, None] * sc.astype(np.float32)          # effective scale
        em = dminf[:, None] * mq.astype(np.float32)       # effective min
        q = np.where(es[:, :, None] > 0, np.rint((b + em[:, :, None]) / es[:, :, None]), 0)
    q = q.clip(0, 15).astype(np.uint8).reshape(nb, 4, 2, 32)   # chunk c, half, l
    qs = (q[:, :, 0, :] | (q[:, :, 1, :] << 4)).reshape(nb, 128)
    S = np.zeros((nb, 12), dtype=np.uint8)
    S[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    S[:, 4:8] = (mq[:, 0:4] & 63) | ((mq[:, 4:8] >> 4) << 6)
    S[:, 8:12] = (sc[:, 4:8] & 0xF) | ((mq[:, 4:8] & 0xF) << 4)
    out = np.concatenate([d.view(np.uint8).reshape(nb, 2), dmin.view(np.uint8).reshape(nb, 2), S, qs], axis=1)
    assert out.shape[1] == 144
    return out.reshape(rows, (n // 256) * 144)


def quantize_q6_k(x):
    """Encode rows (multiple of 256) as Q6_K blocks: 16 sub-blocks of 16, int8 scales."""
    rows, n = x.shape
    assert n % 256 == 0
    b = x.reshape(-1, 16, 16).astype(np.float32)
    nb = b.shape[0]
    amax = np.abs(b).max(axis=2)                           # (nb,16)
    s = amax / 31.0
    d = _f16(s.max(axis=1) / 127.0)
    df = d.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.rint(s / df[:, None]), 0).clip(-128, 127).astype(np.int8)
        es = df[:, None] * sc.astype(np.float32)
        q = np.where(es[:, :, None] > 0, np.rint(b / es[:, :, None]), 0)
    q = (q.clip(-32, 31) + 32).astype(np.uint8).reshape(nb, 2, 4, 32)  # h, k, l
    ql = np.zeros((nb, 2, 64), dtype=np.uint8)
    ql[:, :, 0:32] = (q[:, :, 0, :] & 0xF) | ((q[:, :, 2, :] & 0xF) << 4)
    ql[:, :, 32:64] = (q[:, :, 1, :] & 0xF) | ((q[:, :, 3, :] & 0xF) << 4)
    qh = ((q[:, :, 0, :] >> 4) | ((q[:, :, 1, :] >> 4) << 2) | ((q[:, :, 2, :] >> 4) << 4)
          | ((q[:, :, 3, :] >> 4) << 6)).astype(np.uint8)           # (nb, 2, 32)
    out = np.concatenate([ql.reshape(nb, 128), qh.reshape(nb, 64), sc.view(np.uint8),
                          d.view(np.uint8).reshape(nb, 2)], axis=1)
    assert out.shape[1] == 210
    return out.reshape(rows, (n // 256) * 210)


def quantize(data, qt):
    if qt == QT.F16:
        return data.astype(np.float16)
    if qt == QT.Q4_K:
        return quantize_q4_k(data)
    if qt == QT.Q6_K:
        return quantize_q6_k(data)
    return quants.quantize(data, qt)


def dequantize_roundtrip(data, qt):
    if qt == QT.F32:
        return data
    if qt == QT.F16:
        return data.astype(np.float16).astype(np.float32)
    return quants.dequantize(quantize(data, qt), qt).reshape(data.shape).astype(np.float32)


def load_dequantized_into(model, tensors, qtypes):
    """Replace HF params with the dequantized values of what is stored in the GGUF."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for t in tensors:
            qt = qtypes.get(t.gname, QT.F32)
            if qt == QT.F32:
                continue
            deq = dequantize_roundtrip(t.data, qt)
            rel = np.abs(deq - t.data).max() / max(1e-12, np.abs(t.data).max())
            assert rel < {QT.F16: 1e-3, QT.Q8_0: 0.02}.get(qt, 0.2), (t.gname, qt, rel)
            params[t.hf_name].copy_(torch.from_numpy(t.to_hf(deq)))
            if t.hf_name == "model.embed_tokens.weight" and model.config.tie_word_embeddings:
                assert model.lm_head.weight.data_ptr() == params[t.hf_name].data_ptr()


# ----------------------------------------------------------------------------------------------
# Verification + golden logits
# ----------------------------------------------------------------------------------------------

def verify_gguf(path, model, arch, tensors, qtypes):
    r = gguf.GGUFReader(path)
    assert r.fields["general.architecture"].contents() == arch
    assert r.alignment == 32 and "general.alignment" not in r.fields
    by_name = {t.name: t for t in r.tensors}
    assert len(by_name) == len(tensors), (len(by_name), len(tensors))
    for t in tensors:
        rt = by_name[t.gname]
        qt = qtypes.get(t.gname, QT.F32)
        assert rt.tensor_type == qt, (t.gname, rt.tensor_type, qt)
        assert list(rt.shape) == list(reversed(t.data.shape)), (t.gname, rt.shape, t.data.shape)
        if qt in (QT.F32, QT.F16):
            vals = np.asarray(rt.data).astype(np.float32).reshape(t.data.shape)
        else:
            vals = quants.dequantize(np.asarray(rt.data), qt).reshape(t.data.shape)
        hf = model.state_dict()[t.hf_name].float().numpy()
        back = t.to_hf(vals.astype(np.float32))
        # model already holds dequantized weights for quantized tensors -> exact match expected
        err = np.abs(back - hf).max()
        assert err < 1e-6, (t.gname, err)
    for k, f in r.fields.items():
        if k.startswith("GGUF."):
            continue
        ftype = f.types[0]
        if k.endswith("layer_norm_rms_epsilon") or ".rope.freq_base" in k:
            assert ftype == gguf.GGUFValueType.FLOAT32, k
        elif k not in ("general.architecture", "general.name", "tokenizer.ggml.model"):
            assert ftype == gguf.GGUFValueType.UINT32, (k, ftype)


def make_sequences(vocab, seed, lens=SEQ_LENS):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=n).tolist() for n in lens]


@torch.no_grad()
def hf_logits(model, ids):
    x = torch.tensor([ids], dtype=torch.long)
    return model(input_ids=x, use_cache=False).logits[0].float().numpy()


def write_logits(path, seqs, logits):
    with open(path, "w") as f:
        f.write("openlora-logits 1\n")
        f.write(f"n_seqs {len(seqs)}\n")
        for ids, lg in zip(seqs, logits):
            f.write(f"seq {len(ids)} {lg.shape[1]}\n")
            f.write(" ".join(str(int(t)) for t in ids) + "\n")
            for row in lg:
                f.write(" ".join("%.6e" % v for v in row) + "\n")


def sanity_prefix(model, seqs, logits, tol=2e-5):
    longest = max(seqs, key=len)
    L = logits[seqs.index(longest)]
    for n in (1, 3, 5):
        if n < len(longest):
            p = hf_logits(model, longest[:n])
            err = np.abs(p - L[:n]).max()
            assert err < tol * max(1.0, np.abs(L).max()), ("prefix mismatch", n, err)
    stds = [float(l.std()) for l in logits]
    assert min(stds) > 0.1, ("logits too flat", stds)
    return stds


def emit(name, model, arch, qtypes=None, file_type=0, seed=100):
    qtypes = qtypes or {}
    tensors = convert_tensors(model, arch)
    if qtypes:
        load_dequantized_into(model, tensors, qtypes)
    path = os.path.join(OUT_DIR, name + ".gguf")
    write_gguf(path, model, arch, tensors, qtypes, file_type)
    verify_gguf(path, model, arch, tensors, qtypes)
    seqs = make_sequences(model.config.vocab_size, seed)
    logits = [hf_logits(model, s) for s in seqs]
    stds = sanity_prefix(model, seqs, logits)
    lpath = os.path.join(OUT_DIR, name + ".logits.txt")
    write_logits(lpath, seqs, logits)
    print(f"{name}: gguf {os.path.getsize(path)} B, logits {os.path.getsize(lpath)} B, "
          f"logit std per seq {['%.3f' % s for s in stds]}, argmax last {[int(l[-1].argmax()) for l in logits]}")
    return seqs, logits


def f16_2d(model, arch):
    return {t.gname: QT.F16 for t in convert_tensors(model, arch) if t.data.ndim == 2}


def read_logits(path):
    lines = open(path).read().split("\n")
    assert lines[0] == "openlora-logits 1"
    n, i, out = int(lines[1].split()[1]), 2, []
    for _ in range(n):
        _, nt, nv = lines[i].split()
        nt, nv = int(nt), int(nv)
        ids = [int(t) for t in lines[i + 1].split()]
        arr = np.array([[float(v) for v in lines[i + 2 + k].split()] for k in range(nt)], dtype=np.float32)
        assert arr.shape == (nt, nv) and len(ids) == nt
        out.append((ids, arr))
        i += 2 + nt
    return out


def check_with_llamacpp(names):
    """Optional cross-check of the converter: run the written GGUFs in llama.cpp (llama-cpp-python)
    and compare with the HF goldens. Differences come from llama.cpp's F16 KV cache and its
    Q8_0/Q8_K activation quantization, so expect ~1e-3 (F32/F16) and ~1e-1 (quantized)."""
    import llama_cpp
    for name in names:
        m = llama_cpp.Llama(model_path=os.path.join(OUT_DIR, name + ".gguf"), n_ctx=64, n_threads=2,
                            logits_all=True, verbose=False)
        for ids, gold in read_logits(os.path.join(OUT_DIR, name + ".logits.txt")):
            m.reset()
            m.eval(ids)
            lg = np.array(m.scores[:len(ids)])
            print(f"  llama.cpp vs HF {name} len {len(ids)}: max|diff| {np.abs(lg - gold).max():.3e} "
                  f"argmax agreement {(lg.argmax(1) == gold.argmax(1)).mean():.2f}")
        del m


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    import transformers
    print("transformers", transformers.__version__, "torch", torch.__version__, "gguf-py", getattr(gguf, "__version__", "?"))

    emit("tiny_llama", make_llama(seed=1), "llama", seed=101)

    m = make_llama(seed=1)
    qt = {}
    for t in convert_tensors(m, "llama"):
        if t.data.ndim == 2:
            qt[t.gname] = QT.Q8_0
    emit("tiny_llama_q8_0", m, "llama", qt, file_type=7, seed=102)

    m = make_llama(hidden=256, ffn=512, heads=4, kv_heads=2, layers=1, seed=4)
    qt = {}
    for t in convert_tensors(m, "llama"):
        if t.data.ndim == 2:
            six = any(s in t.gname for s in ("attn_v", "ffn_down", "token_embd"))
            qt[t.gname] = QT.Q6_K if six else QT.Q4_K
    emit("tiny_llama_q4_k", m, "llama", qt, file_type=15, seed=103)

    # qwen2 / gemma3: 2-D weights stored F16 (norms, biases F32) to keep the fixtures small;
    # the HF golden runs on the same f16-rounded values (exactly representable in f32).
    m = make_qwen2()
    emit("tiny_qwen2", m, "qwen2", f16_2d(m, "qwen2"), file_type=1, seed=104)

    g = make_gemma3()
    seqs, logits = emit("tiny_gemma3", g, "gemma3", f16_2d(g, "gemma3"), file_type=1, seed=105)
    assert max(len(s) for s in seqs) > 2 * GEMMA_WINDOW
    # the sliding window must matter: a no-window variant differs past the window
    g_nowin = make_gemma3(sliding_window=4096)
    g_nowin.load_state_dict(g.state_dict())
    longest = max(seqs, key=len)
    L = logits[seqs.index(longest)]
    Ln = hf_logits(g_nowin, longest)
    d = np.abs(L - Ln).max(axis=1)
    assert d[:GEMMA_WINDOW].max() < 1e-5, d
    assert d[GEMMA_WINDOW:].min() > 1e-3, d
    print("gemma3 window check: max|diff| vs no-window per position:", " ".join("%.2e" % v for v in d))

    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"total tests/data/models: {total} B")
    if "--check-llamacpp" in sys.argv:
        check_with_llamacpp(["tiny_llama", "tiny_llama_q8_0", "tiny_llama_q4_k", "tiny_qwen2", "tiny_gemma3"])


if __name__ == "__main__":
    sys.exit(main())
