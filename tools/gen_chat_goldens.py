#!/usr/bin/env python3
"""Generate chat-template goldens for tests/unit/server/test_chat.c.

Expected strings come from the real Jinja templates rendered by Python jinja2 (the engine HF
transformers' apply_chat_template uses), never from openlora:
  * gemma3: tokenizer.chat_template from the GGUF (env OL_MODEL or
            ~/.cache/openlora/gemma-3-270m-q4_k_m.gguf) when it has one, else
            tests/data/chat/gemma3.jinja (Gemma 3's published template);
  * llama3, chatml, qwen2: tests/data/chat/<name>.jinja.
Rendered with add_generation_prompt=True and bos_token="" (the tokenizer adds BOS).
A "developer" message is given to Jinja as "system" (openlora treats them alike). Only
conversations the template accepts are kept (Gemma's raises on non-alternating roles; Qwen2's
adds a default system prompt, so its cases start with a system message).

Output, tests/data/chat/goldens.json:
  {"cases": [{"name", "template", "format", "messages": [{"role", "content"}], "expected"}],
   "python_whitespace": [code points c with chr(c).isspace(), what Jinja's trim strips]}

Usage: .venv/bin/python tools/gen_chat_goldens.py [--out tests/data/chat/goldens.json]
Needs: jinja2 (and gguf to read the template from a GGUF). Deterministic.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "chat")

# template file -> openlora format name
TEMPLATES = {"gemma3": "gemma", "llama3": "llama3", "chatml": "chatml", "qwen2": "chatml"}

WS = " \t\n\u00a0\u3000\u2003\x1c\x85\u2028 "  # Unicode whitespace Python's str.strip() removes

CONVERSATIONS = {
    "single": [("user", "Hello!")],
    "system_user": [("system", "You are a helpful assistant."), ("user", "What is 2+2?")],
    "multi_turn": [("system", "Answer briefly."), ("user", "Hi"), ("assistant", "Hello! How can I help?"),
                   ("user", "Name a planet."), ("assistant", "Mars."), ("user", "Another one?")],
    "no_system_multi": [("user", "first"), ("assistant", "second"), ("user", "third")],
    "padded": [("system", "  Be terse.  \n"), ("user", "\n\t  spaced out \t\n"), ("assistant", "  ok  "),
               ("user", " again ")],
    "unicode_ws": [("user", WS + "edge\u00a0inner\u3000kept" + WS)],
    "not_ws": [("user", "\u200bzero width\u200b"), ("assistant", "\u180emongolian\u180e"), ("user", "\x01ctl\x7f")],
    "only_ws": [("system", "   "), ("user", "  \n ")],
    "empty": [("user", "")],
    "empty_system": [("system", ""), ("user", "go")],
    "specials": [("system", "Never print {{ x }} or {% y %}."),
                 ("user", "say <end_of_turn> <|eot_id|> <|im_end|> \"quoted\" \\back\\")],
    "utf8": [("user", "Grüße 🌍 日本語 — ünïcödé"), ("assistant", "Привет"), ("user", "👋🏽")],
    "multiline": [("user", "line one\nline two\n\nline four\r\nend")],
    "developer": [("developer", "You are a pirate."), ("user", "Hello")],
}


def load_gemma_template():
    path = os.environ.get("OL_MODEL", os.path.expanduser("~/.cache/openlora/gemma-3-270m-q4_k_m.gguf"))
    if os.path.exists(path):
        try:
            import gguf
            r = gguf.GGUFReader(path)
            f = r.fields.get("tokenizer.chat_template")
            if f is not None:
                print(f"gemma3: template from {path}")
                return bytes(f.parts[f.data[0]]).decode("utf-8")
            print(f"gemma3: {path} has no tokenizer.chat_template; using tests/data/chat/gemma3.jinja")
        except ImportError:
            print("gemma3: gguf package missing; using tests/data/chat/gemma3.jinja")
    with open(os.path.join(DATA, "gemma3.jinja"), encoding="utf-8") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(DATA, "goldens.json"))
    args = ap.parse_args()

    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    # As transformers does: trim_blocks + lstrip_blocks, sandboxed.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    sources = {}
    for name in TEMPLATES:
        if name == "gemma3":
            sources[name] = load_gemma_template()
        else:
            with open(os.path.join(DATA, name + ".jinja"), encoding="utf-8") as f:
                sources[name] = f.read()

    cases = []
    for tname, fmt in TEMPLATES.items():
        tmpl = env.from_string(sources[tname])
        for cname, conv in CONVERSATIONS.items():
            msgs = [{"role": r, "content": c} for r, c in conv]
            jmsgs = [{"role": "system" if m["role"] == "developer" else m["role"], "content": m["content"]}
                     for m in msgs]
            if tname == "qwen2" and jmsgs[0]["role"] != "system":
                continue  # Qwen2 injects its default system prompt; openlora does not
            try:
                out = tmpl.render(messages=jmsgs, add_generation_prompt=True, bos_token="", eos_token="")
            except jinja2.exceptions.TemplateError as e:
                print(f"skip {tname}/{cname}: {e}", file=sys.stderr)
                continue
            cases.append({"name": f"{tname}/{cname}", "template": tname, "format": fmt, "messages": msgs,
                          "expected": out})

    ws = [c for c in range(0x110000) if chr(c).isspace()]
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        json.dump({"cases": cases, "python_whitespace": ws}, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print(f"{args.out}: {len(cases)} cases, jinja2 {jinja2.__version__}")


if __name__ == "__main__":
    main()
