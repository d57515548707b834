#!/usr/bin/env python3
"""Write a random-weight GGUF shaped like Llama-3.2-1B, in Q8_0, for benchmarks.

Output: ~/.cache/openlora/llama-3.2-1b-shape-q8_0.gguf (skipped if it exists; --force rewrites).
Shape: arch llama, hidden 2048, 16 layers, 32 heads, 8 kv heads, head_dim 64, ffn 8192,
vocab 128256, tied embeddings (no output.weight), rope_theta 500000, rms eps 1e-5,
no rope_freqs (unscaled RoPE). 2-D weights Q8_0 (token_embd too), norms F32. ~1.3 GB.

Weights: numpy normal(0, 0.02) with a fixed seed, quantized to Q8_0 block by block
(gguf.quants.quantize, numpy-vectorized; torch is not used). Norm weights ~1 with small noise.

Tokenizer: a synthetic but well-formed byte-level BPE section (tokenizer.ggml.model "gpt2",
pre "llama-bpe"): ids 0..255 are the 256 byte tokens (GPT-2 byte->unicode map), followed by
the merges learned by the `tokenizers` BPE trainer on a deterministic pseudo-English/code corpus
built in this file, then CONTROL padding tokens <|reserved_special_token_N|>, and the Llama-3
style special tokens at 128000.. (<|begin_of_text|> = 128000 = BOS, <|end_of_text|> = 128001 = EOS,
<|eot_id|> = 128009). llama.cpp loads it; the text it produces is meaningless (random weights).

This file is a benchmark input only; there is no golden. With --verify, the script loads the file
with llama.cpp (llama-cpp-python) and greedily generates a few tokens.

Run from the repository root:  python3 tools/gen_llama1b.py [--out PATH] [--force] [--verify]
"""
import argparse
import os
import random
import sys
import time

import numpy as np

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import quants

DEFAULT_OUT = os.path.expanduser("~/.cache/openlora/llama-3.2-1b-shape-q8_0.gguf")

D, L, H, HKV, HD, F, V = 2048, 16, 32, 8, 64, 8192, 128256
N_SPECIAL = 256
FIRST_SPECIAL = V - N_SPECIAL  # 128000
SEED = 20240925
STD = 0.02

LLAMA3_SPECIALS = {
    0: "<|begin_of_text|>", 1: "<|end_of_text|>", 2: "<|reserved_special_token_0|>",
    3: "<|reserved_special_token_1|>", 4: "<|finetune_right_pad_id|>", 5: "<|reserved_special_token_2|>",
    6: "<|start_header_id|>", 7: "<|end_header_id|>", 8: "<|eom_id|>", 9: "<|eot_id|>",
    10: "<|python_tag|>",
}

WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no what
can more out up about into them some could him time only other its then than now over also after
new first two may any these like people just year over know make good well very most through
back way even because how our work life day world part between system program data model value
function return print import class self def while else elif true false none list dict string
number index token layer weight memory cache thread batch prompt output input error file path
token tokens language model models serving engine adapter request response compute kernel
matrix vector float integer quantize block scale sum mean norm attention head heads rotary
position window sliding global local small large fast slow read write load store open close
water light house city country river mountain school student teacher book story music
paris london berlin tokyo france germany england japan china india brazil canada spain italy
monday tuesday wednesday thursday friday saturday sunday january february march april june
red green blue yellow black white orange purple brown gray pink
cat dog bird fish horse cow sheep lion tiger bear mouse rabbit
le la les des une est dans pour avec sur pas plus die der das und ist nicht mit von zu den
el los las que por para con una como pero muy""".split()
PUNCT = [".", ",", "!", "?", ":", ";", "(", ")", "[", "]", "{", "}", "\"", "'", "-", "=", "+", "*", "/", "#", "_"]


def byte_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def make_corpus(n_lines=20000, seed=SEED):
    rnd = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        kind = rnd.random()
        if kind < 0.6:
            ws = [rnd.choice(WORDS) for _ in range(rnd.randint(3, 14))]
            if rnd.random() < 0.5:
                ws[0] = ws[0].capitalize()
            s = " ".join(ws) + rnd.choice([".", ".", "?", "!", ",", ":"])
        elif kind < 0.8:
            name = rnd.choice(WORDS)
            s = f"def {name}_{rnd.choice(WORDS)}(x, n={rnd.randint(0, 999)}):\n    return x * {rnd.randint(0, 99)} + n"
        else:
            s = " ".join(str(rnd.randint(0, 100000)) if rnd.random() < 0.5 else rnd.choice(PUNCT) + rnd.choice(WORDS)
                         for _ in range(rnd.randint(2, 8)))
        lines.append(s)
    return lines


def build_vocab():
    """Return tokens, token_types, merges (all lists)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    b2u = byte_to_unicode()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=20000, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator(make_corpus(), trainer=trainer)
    import json
    mdl = json.loads(tok.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in mdl["merges"]]

    tokens = [b2u[b] for b in range(256)]
    seen = set(tokens)
    kept_merges = []
    for m in merges:
        a, b = m.split(" ", 1)
        t = a + b
        if a not in seen or b not in seen:
            continue
        kept_merges.append(m)
        if t not in seen:
            seen.add(t)
            tokens.append(t)
    n_normal = len(tokens)
    types = [1] * n_normal  # NORMAL (llama.cpp's llama-bpe vocab marks byte tokens NORMAL too)
    for i in range(n_normal, FIRST_SPECIAL):
        tokens.append(f"<|reserved_special_token_{i - n_normal + 248}|>")  # above Llama 3's 0..247 range
        types.append(3)
    for k in range(N_SPECIAL):
        tokens.append(LLAMA3_SPECIALS.get(k, f"<|reserved_special_token_{k - 8}|>"))  # as in Llama 3
        types.append(3)
    assert len(tokens) == V and len(set(tokens)) == V, (len(tokens), len(set(tokens)))
    return tokens, types, kept_merges, n_normal


def q8_0_random(rng, shape, std=STD, chunk_rows=8192):
    rows, cols = shape
    out = np.empty((rows, cols // 32 * 34), dtype=np.uint8)
    for r0 in range(0, rows, chunk_rows):
        r1 = min(rows, r0 + chunk_rows)
        x = rng.standard_normal((r1 - r0, cols), dtype=np.float32)
        x *= std
        out[r0:r1] = quants.quantize(x, QT.Q8_0)
    return out


def write(path):
    t0 = time.time()
    tokens, types, merges, n_normal = build_vocab()
    print(f"vocab: {n_normal} byte/merged tokens ({len(merges)} merges), "
          f"{FIRST_SPECIAL - n_normal} padding + {N_SPECIAL} special CONTROL tokens")
    rng = np.random.default_rng(SEED)
    tmp = path + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama", use_temp_file=False)
    w.add_name("llama-3.2-1b-shape-random-q8_0")
    w.add_uint32("general.file_type", 7)
    w.add_uint32("general.quantization_version", gguf.GGML_QUANT_VERSION)
    w.add_uint32("llama.context_length", 131072)
    w.add_uint32("llama.embedding_length", D)
    w.add_uint32("llama.block_count", L)
    w.add_uint32("llama.feed_forward_length", F)
    w.add_uint32("llama.attention.head_count", H)
    w.add_uint32("llama.attention.head_count_kv", HKV)
    w.add_uint32("llama.attention.key_length", HD)
    w.add_uint32("llama.attention.value_length", HD)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32("llama.rope.freq_base", 500000.0)
    w.add_uint32("llama.rope.dimension_count", HD)
    w.add_uint32("llama.vocab_size", V)
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", "llama-bpe")
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_array("tokenizer.ggml.token_type", types)
    w.add_array("tokenizer.ggml.merges", merges)
    w.add_uint32("tokenizer.ggml.bos_token_id", FIRST_SPECIAL + 0)
    w.add_uint32("tokenizer.ggml.eos_token_id", FIRST_SPECIAL + 1)
    w.add_uint32("tokenizer.ggml.eot_token_id", FIRST_SPECIAL + 9)
    w.add_bool("tokenizer.ggml.add_bos_token", True)

    def norm():
        return (1.0 + 0.05 * rng.standard_normal(D, dtype=np.float32)).astype(np.float32)

    w.add_tensor("token_embd.weight", q8_0_random(rng, (V, D)), raw_dtype=QT.Q8_0)
    w.add_tensor("output_norm.weight", norm())
    for il in range(L):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", norm())
        w.add_tensor(p + "attn_q.weight", q8_0_random(rng, (H * HD, D)), raw_dtype=QT.Q8_0)
        w.add_tensor(p + "attn_k.weight", q8_0_random(rng, (HKV * HD, D)), raw_dtype=QT.Q8_0)
        w.add_tensor(p + "attn_v.weight", q8_0_random(rng, (HKV * HD, D)), raw_dtype=QT.Q8_0)
        w.add_tensor(p + "attn_output.weight", q8_0_random(rng, (D, H * HD)), raw_dtype=QT.Q8_0)
        w.add_tensor(p + "ffn_norm.weight", norm())
        w.add_tensor(p + "ffn_gate.weight", q8_0_random(rng, (F, D)), raw_dtype=QT.Q8_0)
        w.add_tensor(p + "ffn_up.weight", q8_0_random(rng, (F, D)), raw_dtype=QT.Q8_0)
        w.add_tensor(p + "ffn_down.weight", q8_0_random(rng, (D, F)), raw_dtype=QT.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, path)
    print(f"wrote {path}: {os.path.getsize(path)} B in {time.time() - t0:.1f} s")


def verify(path):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=path, n_ctx=256, n_threads=2, n_batch=256, verbose=False)
    toks = llm.tokenize(b"The capital of France is", add_bos=True, special=False)
    print("tokens:", toks)
    t = time.time()
    llm.eval(toks)
    gen = []
    n_vocab = llm.n_vocab()
    for _ in range(8):
        lg = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
        assert np.isfinite(lg).all()
        tok = int(np.argmax(lg))
        gen.append(tok)
        llm.eval([tok])
    print(f"llama.cpp greedy 8 tokens: {gen} ({time.time() - t:.1f} s); logits std {float(lg.std()):.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--verify", action="store_true")
    args = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if os.path.exists(args.out) and not args.force:
        print(f"{args.out} exists; skipping (use --force to rewrite)")
    else:
        write(args.out)
    if args.verify:
        verify(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
