#!/usr/bin/env python3
"""Generate tokenizer golden files for tests/unit/tokenizer/test_tokenizer.c.

Expected ids come from independent implementations, never from openlora:
  * gemma:  llama.cpp (llama-cpp-python, vocab_only) on the Gemma 3 270M GGUF
            (env OL_MODEL or ~/.cache/openlora/gemma-3-270m-q4_k_m.gguf; not committed).
  * llama3, qwen2: small byte-level BPE vocabularies trained here with HF `tokenizers` using
            the exact Llama-3 / Qwen2 split regexes + ByteLevel, written as vocab-only GGUFs
            (tests/data/tokenizer/{llama3,qwen2}-vocab.gguf). Ids are taken from llama.cpp on
            that GGUF (GGUF semantics) and cross-checked against HF `tokenizers`; any
            disagreement is printed and recorded in the file's '#' header lines.

Output, tests/data/tokenizer/<vocab>.tsv, one case per line:
    <add_special><parse_special> TAB <escaped bytes> TAB <ids separated by spaces>
Escapes: \\\\ \\n \\r \\t and \\xHH (any other byte < 0x20, 0x7F, or an invalid UTF-8 byte);
everything else is raw UTF-8. Lines starting with '#' are comments.

Usage: python3 tools/gen_tokenizer_goldens.py [--out tests/data/tokenizer]
Needs: llama-cpp-python, tokenizers, gguf (pip). Deterministic (seeded).
"""
import argparse
import json
import os
import random
import sys
import unicodedata

SEED = 20261128
N_STRINGS = 2100

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine, but we've seen what they'd do.",
    "DON'T SHOUT! It's NOT what YOU'RE thinking, I'LL explain.",
    "Large language models predict the next token given the previous ones.",
    "Please summarize the following article in three bullet points.",
    "Le cœur a ses raisons que la raison ne connaît point.",
    "Où est la bibliothèque ? Elle est à côté de l'école, près du café.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein. Straße, Größe, Fußgänger.",
    "¿Dónde está el baño? ¡Qué día tan bonito hace hoy, señor Muñoz!",
    "A ligeira raposa marrom pula sobre o cão preguiçoso. Não, obrigado.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Москва — столица России. Привет, как дела?",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Καλημέρα κόσμε!",
    "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر.",
    "עטלף אבק נס דרך מזגן שהתפוצץ כי חם.",
    "नमस्ते दुनिया! यह एक परीक्षण वाक्य है।",
    "我能吞下玻璃而不伤身体。今天天气很好，我们去公园散步吧。",
    "人工智能正在改变世界，大型语言模型是其中的关键技术。",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ。東京は日本の首都です。",
    "カタカナとひらがなと漢字が混ざった文章をトークナイズします。",
    "다람쥐 헌 쳇바퀴에 타고파. 안녕하세요, 만나서 반갑습니다!",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "Tiếng Việt có nhiều dấu: ả, ã, ạ, ắ, ằ, ẳ, ẵ, ặ. Xin chào!",
    "Pchnąć w tę łódź jeża lub ośm skrzyń fig. Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Kæmi ný öxi hér, ykist þjófum nú bæði víl og ádrepa.",
    "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul, ılık.",
    "Γειά σου Κόσμε, привет мир, hello world, 你好世界, مرحبا بالعالم",
    "ქართული ენა ლამაზია. Հայերեն լեզու. አማርኛ ቋንቋ።",
    "Mix: résumé naïve façade coöperate 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ℌ𝔢𝔩𝔩𝔬 ﬁﬂ ǅ Å Ω",
]

CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
    "const x = await fetch(`https://api.example.com/v1/items?id=${id}&limit=10`);",
    "{\"name\": \"openlora\", \"version\": \"0.1.0\", \"tags\": [\"llm\", \"lora\"], \"n\": 3.5e-7}",
    "SELECT id, name FROM users WHERE age >= 18 AND email LIKE '%@example.com' ORDER BY id;",
    "    if (x != NULL && *x == '\\0') { return -EINVAL; }\r\n",
    "<div class=\"row\"><span>Hello</span>&nbsp;<a href=\"/x?y=1&z=2\">link</a></div>",
    "fn main() -> Result<(), Box<dyn Error>> { let v: Vec<u8> = vec![0xFF; 16]; Ok(()) }",
    "x = [i**2 for i in range(100) if i % 3 == 0]  # squares\n",
    "$ ls -la /usr/lib | grep -E '^d' && echo \"done\" || exit 1",
    "matrix[i][j] += alpha * (A[i][k] @ B[k][j]) - beta;;;",
    "<?php echo $_GET['q']; ?> // ~!@#$%^&*()_+-=[]{}|;':\",./<>?",
]

EMOJI = ["😀", "🎉", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "❤️", "🤖", "🧑🏿‍💻", "✨", "🐍", "🚀", "🙂‍↔️",
         "☕", "⭐", "🏳️‍🌈", "1️⃣", "©", "™", "🔥🔥🔥"]

NUMBERS = ["0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159", "-0.001", "1e10",
           "1,000,000", "2026-11-28", "12:34:56", "+1 (555) 123-4567", "٣٤٥", "१२३", "①②③",
           "Ⅻ", "１２３", "½", "²³", "0x7fffffff", "99.9%", "$19.99", "€5,00", "10^9"]

WHITESPACE = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r",
              " \n ", "\u00a0", "\u3000", "\u2003", "\u2009", "\u200b", "\u0085", "\u2028",
              "\u202f", "\u1680", "\u180e", "\u000b", "\u000c", "\x1c", "\x1f"]

CONTRACTIONS = ["don't", "I'M", "we'LL", "they've", "she'd", "it's", "'s", "''", "'''", "O'Neil",
                "rock'n'roll", "'re", "'Ve", "y'all", "can't", "'t", "'m", "l'homme", "'ll'd"]

SPECIAL_LIKE = {
    "gemma": ["<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<unk>", "<mask>",
              "<unused0>", "<unused12>", "<unused98>", "[multimodal]", "<start_of_image>",
              "<end_of_image>", "<0x41>", "<0xE2>"],
    "llama3": ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
               "<|end_header_id|>", "<|eom_id|>", "<|python_tag|>", "<|reserved_special_token_3|>"],
    "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
              "<|object_ref_start|>", "<|box_end|>"],
}
LOOKALIKE_NOISE = ["<|", "|>", "< |im_end| >", "<start_of_turn", "end_of_turn>", "<<bos>>",
                   "<|eot_id", "<|im_end|", "<tool_call", "<|endoftext|>", "<|im_end|>",
                   "<start_of_turn>", "<|eot_id|>", "</s>", "<s>", "[INST]", "<|user|>"]

# Unicode blocks for random characters (Python's unicodedata decides what is assigned).
BLOCKS = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0x97F),
          (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0x3000, 0x30FF),
          (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFB00, 0xFFFD), (0x10300, 0x1034F),
          (0x1D400, 0x1D7FF), (0x1F300, 0x1FAFF), (0x20000, 0x20100)]

INVALID_UTF8 = [b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xff", b"\xfe",
                b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xc3\x28", b"\xa0\xa1",
                b"\xf8\x88\x80\x80\x80", b"\xe2\x28\xa1"]


def rand_char(rng):
    lo, hi = rng.choice(BLOCKS)
    for _ in range(50):
        c = chr(rng.randint(lo, hi))
        if unicodedata.category(c) not in ("Cn", "Cs", "Co"):
            return c
    return "?"


def gen_one(rng, vocab, i):
    """One test case: (bytes, add_special, parse_special)."""
    kind = i % 12
    parts = []
    if kind == 0:  # sentences, several languages
        parts = [rng.choice(SENTENCES) for _ in range(rng.randint(1, 3))]
        s = rng.choice([" ", "\n", "  ", ""]).join(parts)
    elif kind == 1:  # code
        s = "".join(rng.choice(CODE) for _ in range(rng.randint(1, 2)))
    elif kind == 2:  # emoji mixed with words
        s = "".join(rng.choice(EMOJI + [" ", "ok ", "yes!", "\n", "🙂"]) for _ in range(rng.randint(1, 12)))
    elif kind == 3:  # long whitespace runs between words
        s = "".join(rng.choice(["a", "word", "x", "Hello", "1", ".", "é"]) +
                    rng.choice(WHITESPACE) * rng.randint(1, 40) for _ in range(rng.randint(1, 5)))
    elif kind == 4:  # special-token look-alikes (case repeated with parse_special 0 and 1)
        pool = SPECIAL_LIKE[vocab] + LOOKALIKE_NOISE + ["user", "model", "\n", " ", "Hi", "x"]
        s = "".join(rng.choice(pool) for _ in range(rng.randint(1, 8)))
    elif kind == 5:  # numbers
        s = rng.choice([" ", "", ", ", "\n"]).join(rng.choice(NUMBERS) for _ in range(rng.randint(1, 6)))
    elif kind == 6:  # contractions
        s = " ".join(rng.choice(CONTRACTIONS + ["I", "you", "ROCK"]) for _ in range(rng.randint(1, 8)))
    elif kind == 7:  # random unicode
        s = "".join(rand_char(rng) for _ in range(rng.randint(1, 60)))
    elif kind == 8:  # mixed scripts, word level
        words = " ".join(SENTENCES).split()
        s = "".join(rng.choice(words) + rng.choice([" ", "", "-", "\n", "\t"]) for _ in range(rng.randint(1, 20)))
    elif kind == 9:  # short fragments and edge cases
        s = rng.choice(["", " ", "a", "  a", "a  ", "\n", " \n", "'", "''s", "...", "!!!", "?!",
                        "A", "ab", "é", "中", "😀", "\u0301", "e\u0301", "Å", "\u00a0a",
                        "a\u00a0", " 1", "1 ", "\t\ta", "\r\n\r\n", "x\r", "▁", "▁▁x", "Ġ", "Ċ"])
    elif kind == 10:  # invalid UTF-8 mixed with text (bytes only; llama.cpp golden only)
        b = b"".join(rng.choice([rng.choice(INVALID_UTF8), b"ab", b" ", b"\xc3\xa9", b"1", b"\n"])
                     for _ in range(rng.randint(1, 8)))
        return b, rng.random() < 0.5, rng.random() < 0.5
    else:  # long texts (a few KB)
        s = "\n\n".join(rng.choice(SENTENCES + CODE) for _ in range(rng.randint(4, 14)))
    return s.encode("utf-8"), rng.random() < 0.5, kind == 4 or rng.random() < 0.5


def gen_cases(vocab):
    rng = random.Random(f"{SEED}-{vocab}")
    cases = []
    for i in range(N_STRINGS):
        b, add_sp, parse_sp = gen_one(rng, vocab, i)
        cases.append((b, add_sp, parse_sp))
        if i % 12 == 4:
            cases.append((b, add_sp, not parse_sp))
    # fixed cases that must always be present
    for s in ["<start_of_turn>", "<|im_end|>", "<|eot_id|>", "<end_of_turn>\n", "<|im_start|>user\nhi<|im_end|>"]:
        for ps in (False, True):
            cases.append((s.encode(), True, ps))
    return cases


def escape(b):
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5C:
            out.append("\\\\")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x0D:
            out.append("\\r")
        elif c == 0x09:
            out.append("\\t")
        elif c < 0x20 or c == 0x7F:
            out.append("\\x%02x" % c)
        elif c < 0x80:
            out.append(chr(c))
        else:
            n = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
            try:
                ch = b[i:i + n].decode("utf-8") if n else None
            except UnicodeDecodeError:
                ch = None
            if ch is None or unicodedata.category(ch) in ("Zl", "Zp") or ch == "\u0085":
                out.append("\\x%02x" % c)
            else:
                out.append(ch)
                i += n
                continue
        i += 1
    return "".join(out)


def llama_cpp_tokenizer(path):
    import llama_cpp
    return llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)


def write_tsv(path, header, cases, ids):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for h in header:
            f.write("# " + h + "\n")
        for (b, a, p), t in zip(cases, ids):
            f.write("%d%d\t%s\t%s\n" % (a, p, escape(b), " ".join(map(str, t))))


def corpus_lines(rng):
    pool = SENTENCES + CODE + CONTRACTIONS + NUMBERS
    for _ in range(30000):
        k = rng.random()
        if k < 0.6:
            yield rng.choice(pool)
        elif k < 0.8:
            yield " ".join(rng.choice(" ".join(SENTENCES).split()) for _ in range(8))
        else:
            yield "".join(rand_char(rng) for _ in range(20)) + rng.choice(EMOJI)


def train_bpe(name, regex, ignore_merges, specials, user_defined, vocab_size):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(corpus_lines(random.Random(f"{SEED}-corpus-{name}"))), trainer)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in user_defined])
    return tok


def write_bpe_gguf(path, tok, pre, specials, user_defined, bos, eos, eot, add_bos):
    import gguf
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    n = max(max(vocab.values()), max(t["id"] for t in j["added_tokens"])) + 1
    tokens = [None] * n
    for t, i in vocab.items():
        tokens[i] = t
    types = [1] * n
    for t in j["added_tokens"]:
        tokens[t["id"]] = t["content"]
        types[t["id"]] = 3 if t["content"] in specials else 4
    assert all(t is not None for t in tokens)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(os.path.basename(path))
    w.add_context_length(2048)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(16)
    w.add_vocab_size(n)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tok.token_to_id(bos))
    w.add_eos_token_id(tok.token_to_id(eos))
    w.add_eot_token_id(tok.token_to_id(eot))
    w.add_add_bos_token(add_bos)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return n, len(merges)


def bpe_goldens(out, name, regex, pre, ignore_merges, specials, user_defined, bos, eos, eot, add_bos):
    tok = train_bpe(name, regex, ignore_merges, specials, user_defined, 4000)
    gpath = os.path.join(out, f"{name}-vocab.gguf")
    n, n_merges = write_bpe_gguf(gpath, tok, pre, specials, user_defined, bos, eos, eot, add_bos)
    lc = llama_cpp_tokenizer(gpath)
    bos_id = tok.token_to_id(bos)
    cases = gen_cases(name)
    ids, n_cmp, dis = [], 0, []
    for b, a, p in cases:
        ref = lc.tokenize(b, add_bos=a, special=p)
        ids.append(ref)
        # HF comparison: valid UTF-8 only; HF always splits special tokens, so parse_special
        # false is compared only when the text holds no special token.
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not p and any(sp in s for sp in specials):
            continue
        hf = tok.encode(s, add_special_tokens=False).ids
        if a and add_bos:
            hf = [bos_id] + hf
        n_cmp += 1
        if hf != ref:
            dis.append((s, hf, ref))
    header = [f"vocab {name}: {n} tokens, {n_merges} merges, pre={pre}; HF tokenizers trained BPE "
              f"written by tools/gen_tokenizer_goldens.py",
              f"ids: llama.cpp (llama-cpp-python vocab_only); HF tokenizers agreed on "
              f"{n_cmp - len(dis)}/{n_cmp} comparable cases"]
    for s, hf, ref in dis[:20]:
        header.append("HF disagreement (llama.cpp used): %s hf=%s llama.cpp=%s"
                      % (escape(s.encode())[:200], hf[:40], ref[:40]))
    write_tsv(os.path.join(out, f"{name}.tsv"), header, cases, ids)
    print(f"{name}: {len(cases)} cases, HF agreed {n_cmp - len(dis)}/{n_cmp}")
    for s, hf, ref in dis[:10]:
        print("  disagree:", repr(s[:80]), hf[:20], ref[:20])
    return tok


def pre_variant_goldens(out, tok, base, pre, specials, bos, eos, eot, n_cases=500):
    """The same vocabulary with another tokenizer.ggml.pre (the test rebuilds that GGUF in
    memory from <base>-vocab.gguf), ids from llama.cpp only."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        gpath = os.path.join(d, "v.gguf")
        write_bpe_gguf(gpath, tok, pre, specials, [], bos, eos, eot, False)
        lc = llama_cpp_tokenizer(gpath)
        cases = gen_cases(base)[:n_cases]
        ids = [lc.tokenize(b, add_bos=a, special=p) for b, a, p in cases]
        del lc
    header = [f"vocab {base}-vocab.gguf with tokenizer.ggml.pre={pre} and add_bos_token=false",
              "ids: llama.cpp (llama-cpp-python vocab_only)"]
    write_tsv(os.path.join(out, f"{base}-pre-{pre}.tsv"), header, cases, ids)
    print(f"{base} pre={pre}: {len(cases)} cases")


def gemma_goldens(out):
    path = os.environ.get("OL_MODEL") or os.path.expanduser("~/.cache/openlora/gemma-3-270m-q4_k_m.gguf")
    if not os.path.exists(path):
        print("gemma: model not found, skipped", file=sys.stderr)
        return
    lc = llama_cpp_tokenizer(path)
    cases = gen_cases("gemma")
    ids = [lc.tokenize(b, add_bos=a, special=p) for b, a, p in cases]
    header = ["vocab gemma: Gemma 3 270M GGUF (tokenizer.ggml.model=llama, not committed)",
              "ids: llama.cpp (llama-cpp-python vocab_only)"]
    # Cross-check: HF transformers' own GGUF tokenizer conversion (GemmaTokenizer). HF always
    # splits special tokens, so parse_special false is compared only for texts without any
    # CONTROL token text. Known disagreements (2026-11, transformers 5.24): runs of 16+
    # whitespace characters (HF's conversion cuts the user-defined whitespace tokens
    # differently) and a literal U+2581 in the text, which HF treats as a space.
    try:
        from transformers import AutoTokenizer
        hf = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    except Exception as e:  # optional
        hf = None
        header.append(f"HF cross-check unavailable: {e}")
    if hf is not None:
        control = [hf.convert_ids_to_tokens(i) for i in range(hf.vocab_size) if i < 256]
        control += ["</s>", "<start_of_image>", "<end_of_image>"]
        n_cmp, dis = 0, []
        for (b, a, p), ref in zip(cases, ids):
            try:
                s = b.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if not p and any(c in s for c in control if c.startswith("<") or c.startswith("[")):
                continue
            got = hf.encode(s, add_special_tokens=a)
            n_cmp += 1
            if got != ref:
                dis.append((s, got, ref))
        header.append(f"HF transformers (GGUF conversion) agreed on {n_cmp - len(dis)}/{n_cmp} comparable cases")
        for s, g, ref in dis[:20]:
            header.append("HF disagreement (llama.cpp used): %s hf=%s llama.cpp=%s"
                          % (escape(s.encode())[:200], g[:40], ref[:40]))
        print(f"gemma: HF agreed {n_cmp - len(dis)}/{n_cmp}")
        for s, g, ref in dis[:10]:
            print("  disagree:", repr(s[:80]), g[:20], ref[:20])
    write_tsv(os.path.join(out, "gemma.tsv"), header, cases, ids)
    print(f"gemma: {len(cases)} cases")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tokenizer"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gemma_goldens(args.out)
    l3_special = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                  "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"] + \
                 [f"<|reserved_special_token_{i}|>" for i in range(8)]
    l3 = bpe_goldens(args.out, "llama3", LLAMA3_REGEX, "llama-bpe", True, l3_special, [],
                     "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", True)
    for pre in ("gpt-2", "default", "smollm"):
        pre_variant_goldens(args.out, l3, "llama3", pre, l3_special, "<|begin_of_text|>",
                            "<|end_of_text|>", "<|eot_id|>")
    q2_special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                  "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|vision_pad|>"]
    bpe_goldens(args.out, "qwen2", QWEN2_REGEX, "qwen2", False, q2_special,
                ["<tool_call>", "</tool_call>"], "<|endoftext|>", "<|im_end|>", "<|im_end|>", False)


if __name__ == "__main__":
    main()
