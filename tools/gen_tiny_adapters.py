#!/usr/bin/env python3
r"""Generate PEFT LoRA adapter fixtures for the tiny test models, and their golden logits.

Bases: the SAME HF models that tools/gen_tiny_models.py converts to tests/data/models/tiny_llama.gguf
(make_llama(seed=1), F32) and tiny_gemma3.gguf (make_gemma3(), 2-D weights rounded to F16 exactly as
stored in the GGUF). Before anything is written, this script checks that its HF bases hold exactly
the values stored in those GGUF files and reproduce the committed base goldens
tests/data/models/tiny_*.logits.txt to 1e-5.

Writes, under tests/data/adapters/:
  <base>/<name>/adapter_config.json          written by PEFT save_pretrained (target_modules sorted
  <base>/<name>/adapter_model.safetensors     afterwards so reruns are byte-identical, PEFT's README.md
                                              removed); F32 tensors
                                              base_model.model.<module>.lora_A.weight [r,in] and
                                              .lora_B.weight [out,r]; A and B both seeded random, non-zero
  <base>/<name>.logits.txt                    golden logits with that adapter alone, weight 1.0
  <base>/<mix>.logits.txt                     golden logits for a weighted mix of two adapters
  tiny_llama/all_r8_w0.5.logits.txt           golden logits for all_r8 alone with weight 0.5
  tiny_llama/all_r8.gguf                      the all_r8 llama adapter converted to llama.cpp GGUF LoRA
                                              format (general.type=adapter, adapter.type=lora,
                                              adapter.lora.alpha; <gguf base>.weight.lora_a ne=[in,r],
                                              <gguf base>.weight.lora_b ne=[r,out]; attn_q/attn_k lora_b rows permuted
                                              like the base q/k rows, per head)
  manifest.txt                                one line per golden (format below)

Adapters per base (<base> = tiny_llama, tiny_gemma3), all lora_dropout 0, bias "none":
  qv_r4        r=4,  alpha=8,  target q_proj,v_proj                                  (s = 2)
  all_r8       r=8,  alpha=16, target "all-linear" (q,k,v,o,gate,up,down; not lm_head) (s = 2)
  rslora_r16   r=16, alpha=8,  use_rslora, target q,k,v,o,down                       (s = 8/sqrt(16) = 2)
  pattern_r8   r=8,  alpha=16, target q,k,v,o,down, layers_to_transform=[1],
               rank_pattern {"down_proj": 4, "v_proj": 2}, alpha_pattern {"q_proj": 32, "down_proj": 6}
               (s: q 32/8=4, k/o 16/8=2, v 16/2=8, down 6/4=1.5; layer 0 untouched)

Weighted mix definition (one per base; weights also appear in the manifest):
  y = W x + sum_i w_i * s_i * B_i (A_i x),   s_i = alpha_i/r_i  (alpha_i/sqrt(r_i) with use_rslora),
  with alpha_i, r_i after rank_pattern/alpha_pattern for that module; a module that adapter i does
  not target contributes nothing for i. A single adapter with weight w is the same formula with one
  term. (llama.cpp's GGUF path computes s = w*alpha/r with r = lora_b.ne[0], which is the same thing
  for adapters without rslora/patterns, e.g. all_r8.)
  PEFT computation: both adapters loaded into one PeftModel, both active (base_model.set_adapter([..])),
  each LoraLayer's scaling[name] multiplied by w_i. Checked against (1) a plain-torch single-layer
  evaluation of the formula, (2) a whole-model plain-torch implementation (forward hooks on the bare
  HF model, scale computed by this file from adapter_config.json, tensors read from the safetensors
  file) and (3), informational only, PEFT add_weighted_adapter(combination_type="cat").
  add_weighted_adapter("cat") (PEFT 0.21.2) builds A_cat = [w_i s_i A_i] (rows), B_cat = [B_i] (cols)
  with r = lora_alpha = sum r_i (scale 1): the formula above, BUT the new adapter copies the rest of
  adapters[0]'s config: use_rslora=True there gives scale sqrt(sum r) instead of 1, and its
  layers_to_transform drops the other adapters' other layers; a module that only some layers of the
  union target raises "No matching LoRAs found". It equals the formula only for the llama mix with
  all_r8 first (printed below as max|diff| ~3e-6), hence the multi-active method for the goldens.

Facts for the C loader (what the goldens assume):
  - The set of adapted modules is given by the safetensors keys base_model.model.<HF module>.lora_A/B
    .weight; do not derive it from target_modules (PEFT may store "all-linear" expanded to full module
    paths, see tiny_llama/all_r8) or layers_to_transform (already applied: pattern_r8 has layer 1 only).
  - r of a module = lora_A rows; alpha = alpha_pattern entry whose key equals the module path or is a
    dot-boundary suffix of it (PEFT: re.match(r"(.*\.)?(key)$", path), first key wins), else lora_alpha;
    s = alpha/r, or alpha/sqrt(r) if use_rslora. rank_pattern only explains the shapes.
  - llama-arch GGUF base + PEFT adapter: permute lora_B rows of q_proj (per query head, H) and k_proj
    (per KV head, Hkv) with GGUF row 2i+s = HF row s*D/2+i; never A, never other modules, never gemma3.

Source of truth: HF transformers + PEFT, torch float32, eager attention, CPU. Independent check of
every golden: the plain-torch hook implementation above (must agree to 1e-5 relative to max|logit|).
Other checks: adapters change the logits visibly (relative L2 change of all logits 5%..35%), merge_and_unload gives
the same logits as the unmerged model to 1e-5, disabling the adapter reproduces the base golden,
and (optional, if llama_cpp is importable) llama.cpp itself running tiny_llama.gguf + all_r8.gguf
agrees with the PEFT golden (it also shows that an unpermuted lora_b does not). Measured with
llama-cpp-python 0.3.36, max|diff| over all logits: F32 KV cache: base 4.6e-6, +all_r8.gguf 5.8e-6,
lora_scale 0.5 vs the weight-0.5 golden 4.7e-6, unpermuted lora_b 0.74; default F16 KV cache:
2.6e-3 / 2.4e-3.

Logits file format: identical to tests/data/models/*.logits.txt (see tools/gen_tiny_models.py):
  openlora-logits 1 / n_seqs 3 / per seq: "seq <n_tokens> <n_vocab>", ids line, n_tokens rows %.6e.
Token sequences are the ones of the base goldens (gen_tiny_models.make_sequences(512, 101 / 105)).

manifest.txt: '#' lines are comments; every other line is
  <base gguf> <golden file> <n_adapters> [<adapter> <weight>]*n_adapters
paths relative to tests/data; <adapter> is a PEFT directory, or a file ending in .gguf for a
llama.cpp GGUF LoRA; n_adapters 0 means the base alone (points at the existing base golden).

Run from the repository root:  python3 tools/gen_tiny_adapters.py
Deterministic: fixed seeds, CPU torch; rerun gives identical files.
"""
import copy
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_tiny_models as gtm  # noqa: E402  (sets torch threads + deterministic algorithms)

import gguf  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

DATA = os.path.normpath(os.path.join(HERE, "..", "tests", "data"))
OUT = os.path.join(DATA, "adapters")
TOL = 1e-5

SPECS = [
    dict(name="qv_r4", seed=11, rel=0.12,
         cfg=dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])),
    dict(name="all_r8", seed=12, rel=0.07,
         cfg=dict(r=8, lora_alpha=16, target_modules="all-linear")),
    dict(name="rslora_r16", seed=13, rel=0.07,
         cfg=dict(r=16, lora_alpha=8, use_rslora=True,
                  target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"])),
    dict(name="pattern_r8", seed=14, rel=0.15,
         cfg=dict(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"],
                  layers_to_transform=[1],
                  rank_pattern={"down_proj": 4, "v_proj": 2},
                  alpha_pattern={"q_proj": 32, "down_proj": 6})),
]
MIXES = {
    "tiny_llama": ("mix_all_r8_0.7_rslora_r16_0.3", [("all_r8", 0.7), ("rslora_r16", 0.3)]),
    "tiny_gemma3": ("mix_pattern_r8_0.6_qv_r4_0.4", [("pattern_r8", 0.6), ("qv_r4", 0.4)]),
}
GGUF_LORA = ("tiny_llama", "all_r8")
SCALED = ("tiny_llama", "all_r8", 0.5)  # one single-adapter golden with weight != 1


# ----------------------------------------------------------------------------------------------
# Bases
# ----------------------------------------------------------------------------------------------

def build_base(base):
    """Return (hf model, arch, token sequences) reproducing tests/data/models/<base>.*"""
    if base == "tiny_llama":
        m = gtm.make_llama(seed=1)
        arch, qt, seed = "llama", {}, 101
    elif base == "tiny_gemma3":
        m = gtm.make_gemma3()
        arch, seed = "gemma3", 105
        qt = gtm.f16_2d(m, arch)
        gtm.load_dequantized_into(m, gtm.convert_tensors(m, arch), qt)
    else:
        raise ValueError(base)
    m.eval()
    seqs = gtm.make_sequences(m.config.vocab_size, seed)
    return m, arch, seqs


def check_base(base, model, arch, seqs):
    # 1. weights equal the values stored in the committed GGUF
    r = gguf.GGUFReader(os.path.join(DATA, "models", base + ".gguf"))
    stored = {t.name: t for t in r.tensors}
    conv = gtm.convert_tensors(model, arch)
    assert len(conv) == len(stored)
    sd = model.state_dict()
    for t in conv:
        rt = stored[t.gname]
        vals = np.asarray(rt.data).astype(np.float32).reshape(t.data.shape)
        err = float(np.abs(t.to_hf(vals) - sd[t.hf_name].float().numpy()).max())
        # exact, except gemma3 norms: GGUF holds fl(1+w), so (1+w)-1 may differ by one f32 ulp of 1
        assert err == 0.0 or (t.norm_shift and err < 1e-6), (base, t.gname, err)
    # 2. logits equal the committed golden
    gold = gtm.read_logits(os.path.join(DATA, "models", base + ".logits.txt"))
    worst = 0.0
    for (ids, g), s in zip(gold, seqs):
        assert ids == s
        worst = max(worst, float(np.abs(gtm.hf_logits(model, s) - g).max()))
    assert worst < TOL, (base, worst)
    print(f"{base}: HF base == GGUF weights (exact; gemma norms to 1 ulp), == committed golden (max|diff| {worst:.2e})")
    return gold


# ----------------------------------------------------------------------------------------------
# Adapter creation
# ----------------------------------------------------------------------------------------------

def lora_layers(peft_model):
    from peft.tuners.lora import LoraLayer
    return [(n, m) for n, m in peft_model.named_modules() if isinstance(m, LoraLayer)]


def make_adapter(base_model, spec, out_dir):
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", **spec["cfg"])
    pm = get_peft_model(copy.deepcopy(base_model), cfg, adapter_name="default")
    g = torch.Generator().manual_seed(spec["seed"])
    n_mod = 0
    with torch.no_grad():
        for name, layer in lora_layers(pm):
            if "default" not in layer.lora_A:
                continue
            A = layer.lora_A["default"].weight
            B = layer.lora_B["default"].weight
            W = layer.get_base_layer().weight
            r, n_in = A.shape
            n_out = B.shape[0]
            s = float(layer.scaling["default"])
            # A ~ N(0, 1/in) so A x ~ O(1); B sized so ||s B A||_F ~ rel * ||W||_F
            A.copy_(torch.randn(A.shape, generator=g) / math.sqrt(n_in))
            b_std = spec["rel"] * float(W.norm()) / (s * math.sqrt(n_out * r))
            B.copy_(b_std * torch.randn(B.shape, generator=g))
            n_mod += 1
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    pm.save_pretrained(out_dir)
    # keep only the two adapter files; make the JSON independent of Python's set hash order
    for f in os.listdir(out_dir):
        if f not in ("adapter_config.json", "adapter_model.safetensors"):
            os.remove(os.path.join(out_dir, f))
    p = os.path.join(out_dir, "adapter_config.json")
    c = json.load(open(p))
    for k in ("target_modules", "exclude_modules"):
        if isinstance(c.get(k), list):
            c[k] = sorted(c[k])
    with open(p, "w") as f:
        f.write(json.dumps(c, indent=2, sort_keys=True))
    return n_mod


def load_peft(base_model, adapters):
    """PeftModel with the given adapter dirs loaded (names = basenames), none scaled yet."""
    from peft import PeftModel
    first = adapters[0]
    pm = PeftModel.from_pretrained(copy.deepcopy(base_model), first, adapter_name=os.path.basename(first))
    for d in adapters[1:]:
        pm.load_adapter(d, adapter_name=os.path.basename(d))
    pm.eval()
    return pm


def peft_logits(base_model, mix, seqs):
    """mix: list of (adapter dir, weight). Both active, LoraLayer.scaling[name] *= w."""
    pm = load_peft(base_model, [d for d, _ in mix])
    names = [os.path.basename(d) for d, _ in mix]
    pm.base_model.set_adapter(names)
    for _, layer in lora_layers(pm):
        for (d, w), n in zip(mix, names):
            if n in layer.scaling:
                layer.scaling[n] *= w
    return pm, [gtm.hf_logits(pm, s) for s in seqs]


# ----------------------------------------------------------------------------------------------
# Independent plain-torch implementation of y = W x + sum_i w_i s_i B_i A_i x
# ----------------------------------------------------------------------------------------------

def _pattern(pat, module):
    """Key of a rank/alpha pattern that names this module: equal, or a dot-boundary suffix."""
    hits = [k for k in pat if module == k or module.endswith("." + k)]
    assert len(hits) <= 1, (module, hits)
    return pat[hits[0]] if hits else None


def read_adapter(d):
    """-> {module path in the HF model: (A [r,in], B [out,r], s)} computed without PEFT."""
    c = json.load(open(os.path.join(d, "adapter_config.json")))
    t = load_file(os.path.join(d, "adapter_model.safetensors"))
    out = {}
    for k, A in t.items():
        if not k.endswith(".lora_A.weight"):
            continue
        assert k.startswith("base_model.model.")
        mod = k[len("base_model.model."):-len(".lora_A.weight")]
        B = t[k.replace(".lora_A.", ".lora_B.")]
        r = A.shape[0]
        assert B.shape[1] == r
        exp_r = _pattern(c.get("rank_pattern") or {}, mod)
        assert r == (exp_r if exp_r is not None else c["r"]), (mod, r)
        alpha = _pattern(c.get("alpha_pattern") or {}, mod)
        alpha = c["lora_alpha"] if alpha is None else alpha
        s = alpha / math.sqrt(r) if c.get("use_rslora") else alpha / r
        out[mod] = (A.float(), B.float(), s)
    assert len(t) == 2 * len(out)
    return out


@torch.no_grad()
def reference_logits(base_model, mix, seqs):
    mods = dict(base_model.named_modules())
    hooks = []
    terms = {}
    for d, w in mix:
        for mod, (A, B, s) in read_adapter(d).items():
            terms.setdefault(mod, []).append((A, B, w * s))
    for mod, ts in terms.items():
        def hook(m, inp, out, ts=ts):
            x = inp[0]
            y = out
            for A, B, ws in ts:
                y = y + ws * ((x @ A.t()) @ B.t())
            return y
        hooks.append(mods[mod].register_forward_hook(hook))
    try:
        return [gtm.hf_logits(base_model, s) for s in seqs]
    finally:
        for h in hooks:
            h.remove()


@torch.no_grad()
def one_layer_check(pm, mix, module_suffix):
    """Plain torch formula on one LoraLayer of the multi-active PEFT model."""
    name, layer = next((n, l) for n, l in lora_layers(pm) if n.endswith(module_suffix))
    g = torch.Generator().manual_seed(7)
    x = torch.randn(5, layer.get_base_layer().in_features, generator=g)
    y_peft = layer(x)
    y = x @ layer.get_base_layer().weight.t()
    mod = name[len("base_model.model."):]
    for d, w in mix:
        ad = read_adapter(d)
        if mod in ad:
            A, B, s = ad[mod]
            y = y + w * s * ((x @ A.t()) @ B.t())
    err = float((y_peft - y).abs().max())
    assert err < 1e-5 * max(1.0, float(y.abs().max())), (name, err)
    return name, err


# ----------------------------------------------------------------------------------------------
# GGUF LoRA (llama.cpp convert_lora_to_gguf conventions)
# ----------------------------------------------------------------------------------------------

def write_gguf_lora(path, adapter_dir, base_model, arch, permute=True):
    c = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    assert not c.get("use_rslora") and not c.get("rank_pattern") and not c.get("alpha_pattern")
    t = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    cfg = base_model.config
    w = gguf.GGUFWriter(path, arch)
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(c["lora_alpha"]))
    n = 0
    for k in sorted(t):
        if not k.endswith(".lora_A.weight"):
            continue
        mod = k[len("base_model.model."):-len(".lora_A.weight")]
        gname = gtm.gguf_name(mod + ".weight", arch)  # e.g. blk.0.attn_q.weight
        A = t[k].float().numpy()
        B = t[k.replace(".lora_A.", ".lora_B.")].float().numpy()
        if permute and arch == "llama" and mod.endswith("self_attn.q_proj"):
            B = gtm.llama_permute(B, cfg.num_attention_heads)
        elif permute and arch == "llama" and mod.endswith("self_attn.k_proj"):
            B = gtm.llama_permute(B, cfg.num_key_value_heads)
        w.add_tensor(gname + ".lora_a", np.ascontiguousarray(A, dtype=np.float32))  # ne=[in,r]
        w.add_tensor(gname + ".lora_b", np.ascontiguousarray(B, dtype=np.float32))  # ne=[r,out]
        n += 1
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    # verify what was written
    r = gguf.GGUFReader(path)
    assert r.fields["general.type"].contents() == "adapter"
    assert abs(r.fields["adapter.lora.alpha"].contents() - c["lora_alpha"]) < 1e-6
    base = {tt.name: tt for tt in gguf.GGUFReader(os.path.join(DATA, "models", "tiny_llama.gguf")).tensors}
    for tt in r.tensors:
        bn = tt.name.rsplit(".", 1)[0]
        bt = base[bn]
        if tt.name.endswith(".lora_a"):
            assert int(tt.shape[0]) == int(bt.shape[0]), (tt.name, tt.shape, bt.shape)
        else:
            assert int(tt.shape[1]) == int(bt.shape[1]), (tt.name, tt.shape, bt.shape)
    return n


def llamacpp_logits(model_path, lora_path, seqs, f32_kv, lora_scale=1.0):
    import llama_cpp
    kw = dict(model_path=model_path, n_ctx=64, n_threads=2, logits_all=True, verbose=False, seed=0)
    if lora_path:
        kw["lora_path"] = lora_path
        kw["lora_scale"] = lora_scale
    if f32_kv:
        kw["type_k"] = kw["type_v"] = 0  # GGML_TYPE_F32
    m = llama_cpp.Llama(**kw)
    out = []
    for ids in seqs:
        m.reset()
        m.eval(ids)
        out.append(np.array(m.scores[:len(ids)], dtype=np.float32))
    del m
    return out


def maxdiff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b))


def rel_change(a, b):
    return float(np.sqrt(sum(((x - y) ** 2).sum() for x, y in zip(a, b)) / sum((y ** 2).sum() for y in b)))


# ----------------------------------------------------------------------------------------------

def main():
    import peft
    import transformers
    print("peft", peft.__version__, "transformers", transformers.__version__, "torch", torch.__version__)
    os.makedirs(OUT, exist_ok=True)
    manifest = ["# <base gguf> <golden> <n_adapters> [<adapter dir | .gguf> <weight>]...  (paths relative to tests/data)",
                "# y = W x + sum_i weight_i * s_i * B_i A_i x ; s_i = alpha/r, or alpha/sqrt(r) with use_rslora,"
                " alpha/r per module after rank_pattern/alpha_pattern",
                "# <adapter> is a PEFT dir (adapter_config.json + adapter_model.safetensors) or a llama.cpp GGUF LoRA (*.gguf);"
                " n_adapters 0 = base alone"]
    for base in ("tiny_llama", "tiny_gemma3"):
        model, arch, seqs = build_base(base)
        base_gold = [g for _, g in check_base(base, model, arch, seqs)]
        bdir = os.path.join(OUT, base)
        os.makedirs(bdir, exist_ok=True)
        gguf_path = f"models/{base}.gguf"
        manifest.append(f"{gguf_path} models/{base}.logits.txt 0")
        goldens = {}
        for spec in SPECS:
            adir = os.path.join(bdir, spec["name"])
            n_mod = make_adapter(model, spec, adir)
            pm, lg = peft_logits(model, [(adir, 1.0)], seqs)
            ref = reference_logits(model, [(adir, 1.0)], seqs)
            d_ref = maxdiff(lg, ref)
            scale = max(float(np.abs(x).max()) for x in lg)
            assert d_ref < TOL * max(1.0, scale), (spec["name"], d_ref)
            with pm.disable_adapter():
                d_base = maxdiff([gtm.hf_logits(pm, s) for s in seqs], base_gold)
            assert d_base < TOL, d_base
            rc = rel_change(lg, base_gold)
            assert 0.05 < rc < 0.35, (spec["name"], rc)
            merged = pm.merge_and_unload()
            d_merge = maxdiff([gtm.hf_logits(merged, s) for s in seqs], lg)
            assert d_merge < TOL * max(1.0, scale), (spec["name"], d_merge)
            argmax_changed = np.mean(np.concatenate([x.argmax(1) != y.argmax(1) for x, y in zip(lg, base_gold)]))
            gpath = os.path.join(bdir, spec["name"] + ".logits.txt")
            gtm.write_logits(gpath, seqs, lg)
            goldens[spec["name"]] = lg
            rel = os.path.relpath(adir, DATA)
            manifest.append(f"{gguf_path} {os.path.relpath(gpath, DATA)} 1 {rel} 1.0")
            print(f"  {base}/{spec['name']}: {n_mod} modules, rel L2 change vs base {rc:.3f}, "
                  f"max|dlogit| {maxdiff(lg, base_gold):.3f}, argmax changed {argmax_changed:.2f}; "
                  f"|PEFT-ref| {d_ref:.1e}, |merged-unmerged| {d_merge:.1e}, |disabled-base golden| {d_base:.1e}")

        # weighted mix
        mix_name, mix = MIXES[base]
        mix_dirs = [(os.path.join(bdir, n), w) for n, w in mix]
        pm, lg = peft_logits(model, mix_dirs, seqs)
        lname, lerr = one_layer_check(pm, mix_dirs, "layers.1.self_attn.q_proj")
        ref = reference_logits(model, mix_dirs, seqs)
        d_ref = maxdiff(lg, ref)
        scale = max(float(np.abs(x).max()) for x in lg)
        assert d_ref < TOL * max(1.0, scale), (mix_name, d_ref)
        for n, _ in mix:
            assert maxdiff(lg, goldens[n]) > 1e-2, "mix too close to one of its components"
        print(f"  {base}/{mix_name}: one-layer ({lname}) |PEFT-formula| {lerr:.1e}; whole model "
              f"|PEFT-ref| {d_ref:.1e}; rel change vs base {rel_change(lg, base_gold):.3f}")
        # cross-check with PEFT add_weighted_adapter(cat), which keeps adapters[0]'s config (use_rslora,
        # layers_to_transform) for the combined adapter with r = lora_alpha = sum of ranks
        for order in (mix_dirs, mix_dirs[::-1]):
            try:
                pc = load_peft(model, [d for d, _ in order])
                pc.add_weighted_adapter([os.path.basename(d) for d, _ in order], [w for _, w in order],
                                        "cat", combination_type="cat")
                pc.set_adapter("cat")
                d_cat = maxdiff([gtm.hf_logits(pc, s) for s in seqs], lg)
                print(f"    add_weighted_adapter(cat, first={os.path.basename(order[0][0])}) vs multi-active: "
                      f"max|diff| {d_cat:.1e}")
            except Exception as e:  # noqa: BLE001
                print(f"    add_weighted_adapter(cat) not usable here: {type(e).__name__}: {e}")
        gpath = os.path.join(bdir, mix_name + ".logits.txt")
        gtm.write_logits(gpath, seqs, lg)
        manifest.append(f"{gguf_path} {os.path.relpath(gpath, DATA)} {len(mix)} " +
                        " ".join(f"{os.path.relpath(d, DATA)} {w}" for d, w in mix_dirs))

        # single adapter with weight != 1
        if base == SCALED[0]:
            name, w = SCALED[1], SCALED[2]
            adir = os.path.join(bdir, name)
            _, lg_w = peft_logits(model, [(adir, w)], seqs)
            d_ref = maxdiff(lg_w, reference_logits(model, [(adir, w)], seqs))
            assert d_ref < TOL * max(1.0, scale), d_ref
            assert maxdiff(lg_w, goldens[name]) > 1e-2 and maxdiff(lg_w, base_gold) > 1e-2
            goldens[f"{name}_w{w}"] = lg_w
            gpath = os.path.join(bdir, f"{name}_w{w}.logits.txt")
            gtm.write_logits(gpath, seqs, lg_w)
            manifest.append(f"{gguf_path} {os.path.relpath(gpath, DATA)} 1 {os.path.relpath(adir, DATA)} {w}")
            print(f"  {base}/{name} weight {w}: |PEFT-ref| {d_ref:.1e}; rel change vs base {rel_change(lg_w, base_gold):.3f}")

        # llama.cpp-format GGUF LoRA
        if base == GGUF_LORA[0]:
            name = GGUF_LORA[1]
            lpath = os.path.join(bdir, name + ".gguf")
            n = write_gguf_lora(lpath, os.path.join(bdir, name), model, arch)
            manifest.append(f"{gguf_path} {os.path.relpath(os.path.join(bdir, name + '.logits.txt'), DATA)} 1 "
                            f"{os.path.relpath(lpath, DATA)} 1.0")
            if base == SCALED[0] and name == SCALED[1]:
                manifest.append(f"{gguf_path} {os.path.relpath(os.path.join(bdir, f'{name}_w{SCALED[2]}.logits.txt'), DATA)}"
                                f" 1 {os.path.relpath(lpath, DATA)} {SCALED[2]}")
            print(f"  {os.path.relpath(lpath, DATA)}: {n} lora_a/lora_b pairs")
            try:
                import llama_cpp  # noqa: F401
                have = True
            except ImportError:
                have = False
            if have:
                mp = os.path.join(DATA, "models", base + ".gguf")
                with tempfile.TemporaryDirectory() as td:
                    bad = os.path.join(td, "unpermuted.gguf")
                    write_gguf_lora(bad, os.path.join(bdir, name), model, arch, permute=False)
                    for f32 in (False, True):
                        kv = "F32 KV" if f32 else "F16 KV"
                        lb = llamacpp_logits(mp, None, seqs, f32)
                        ll = llamacpp_logits(mp, lpath, seqs, f32)
                        lu = llamacpp_logits(mp, bad, seqs, f32)
                        print(f"    llama.cpp ({kv}): base vs HF golden {maxdiff(lb, base_gold):.2e}; "
                              f"+{name}.gguf vs PEFT golden {maxdiff(ll, goldens[name]):.2e}; "
                              f"delta(lora-base) llama.cpp vs PEFT "
                              f"{maxdiff([a - b for a, b in zip(ll, lb)], [a - b for a, b in zip(goldens[name], base_gold)]):.2e}; "
                              f"UNPERMUTED lora_b vs PEFT {maxdiff(lu, goldens[name]):.2e}")
                        if f32:
                            assert maxdiff(ll, goldens[name]) < 1e-3
                            assert maxdiff(lu, goldens[name]) > 1e-2
                    if base == SCALED[0] and name == SCALED[1]:
                        w = SCALED[2]
                        lh = llamacpp_logits(mp, lpath, seqs, True, lora_scale=w)
                        d = maxdiff(lh, goldens[f"{name}_w{w}"])
                        print(f"    llama.cpp (F32 KV) lora_scale {w} vs PEFT weight-{w} golden {d:.2e}")
                        assert d < 1e-3
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    total = 0
    for root, _, files in os.walk(OUT):
        for fn in sorted(files):
            total += os.path.getsize(os.path.join(root, fn))
    print(f"total tests/data/adapters: {total} B")
    assert total <= 3 * 1024 * 1024, total


if __name__ == "__main__":
    sys.exit(main())
