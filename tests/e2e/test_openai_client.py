"""End-to-end: `openlora serve` driven by the official OpenAI Python client (openai 2.x).

Run: .venv/bin/python tests/e2e/test_openai_client.py   (OL_BIN=build/openlora by default)
Prints one PASS/FAIL line per case; exits 1 on any failure, 0 when all pass or the model is
missing (SKIP; OL_REQUIRE_MODEL=1 makes that a failure). Contract: docs/http-api.md.
"""

import json
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server as S  # noqa: E402
from server import check, short  # noqa: E402

import openai  # noqa: E402

ITALY = [{"role": "user", "content": "What is the capital of Italy?"}]
COUNT_PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
# rare CJK Extension B characters: the tokenizer has no piece for them, so the model emits
# them as byte tokens and max_tokens can cut inside a character
RARE_CJK = "𠀀𠀁𠀂𠀃𠀄𠀅𠀆𠀇𠀈𠀉𠀊𠀋"
EMOJI = "🐶🐱🐭🐹🐰🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵"
NOT_FOUND_MSG = "The model `{}` does not exist or you do not have access to it."


# /metrics families the server must expose (issue: prefix openlora_, base units)
METRIC_FAMILIES = {
    "openlora_http_requests_total": "counter",
    "openlora_http_request_duration_seconds": "histogram",
    "openlora_prompt_tokens_total": "counter",
    "openlora_generation_tokens_total": "counter",
    "openlora_time_to_first_token_seconds": "histogram",
    "openlora_inter_token_latency_seconds": "histogram",
    "openlora_e2e_request_latency_seconds": "histogram",
    "openlora_queue_time_seconds": "histogram",
    "openlora_adapter_load_seconds": "histogram",
    "openlora_requests_running": "gauge",
    "openlora_requests_waiting": "gauge",
    "openlora_requests_loading_adapter": "gauge",
    "openlora_kv_blocks_used": "gauge",
    "openlora_kv_blocks_total": "gauge",
    "openlora_kv_blocks_cached": "gauge",
    "openlora_adapters_registered": "gauge",
    "openlora_adapters_resident": "gauge",
    "openlora_adapter_cache_resident_bytes": "gauge",
    "openlora_adapter_cache_budget_bytes": "gauge",
    "openlora_adapter_cache_hits_total": "counter",
    "openlora_adapter_cache_misses_total": "counter",
    "openlora_adapter_cache_loads_total": "counter",
    "openlora_adapter_cache_load_failures_total": "counter",
    "openlora_adapter_cache_evictions_total": "counter",
    "openlora_engine_steps_total": "counter",
    "openlora_preemptions_total": "counter",
}
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
                       r'(-?(?:[0-9.eE+-]+|Inf|NaN)|\+Inf)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Prometheus text format 0.0.4 -> {family: {"type": t, "samples": {(name, labels): value}}}.
    Every line must parse; samples must follow their family's TYPE line; histograms must have
    ascending le, cumulative buckets and a +Inf bucket equal to _count."""
    fams, cur = {}, None
    for ln in text.splitlines():
        if not ln:
            continue
        if ln.startswith("# HELP "):
            continue
        if ln.startswith("# TYPE "):
            parts = ln.split()
            check(len(parts) == 4 and parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"),
                  f"bad TYPE line: {ln!r}")
            check(parts[2] not in fams, f"family {parts[2]} typed twice")
            cur = fams[parts[2]] = {"type": parts[3], "samples": {}}
            cur["name"] = parts[2]
            continue
        check(not ln.startswith("#"), f"unknown comment line: {ln!r}")
        m = SAMPLE_RE.match(ln)
        check(m, f"sample line does not parse: {ln!r}")
        name, labels, value = m.group(1), tuple(LABEL_RE.findall(m.group(2) or "")), float(m.group(3))
        check(cur is not None, f"sample before any TYPE line: {ln!r}")
        base = cur["name"]
        ok = name == base or (cur["type"] == "histogram" and name in (base + "_bucket", base + "_sum", base + "_count"))
        check(ok, f"sample {name} under family {base}")
        check((name, labels) not in cur["samples"], f"duplicate series {ln!r}")
        if cur["type"] == "counter" or name.endswith(("_bucket", "_count")):
            check(value >= 0, f"negative counter: {ln!r}")
        cur["samples"][(name, labels)] = value
    for fname, f in fams.items():
        if f["type"] != "histogram":
            continue
        groups = {}
        for (name, labels), v in f["samples"].items():
            rest = tuple(kv for kv in labels if kv[0] != "le")
            g = groups.setdefault(rest, {"buckets": [], "count": None, "sum": None})
            if name.endswith("_bucket"):
                le = dict(labels)["le"]
                g["buckets"].append((float("inf") if le == "+Inf" else float(le), v))
            elif name.endswith("_count"):
                g["count"] = v
            else:
                g["sum"] = v
        for rest, g in groups.items():
            b = g["buckets"]
            check(b and g["count"] is not None and g["sum"] is not None, f"{fname}{rest}: incomplete histogram")
            check([x for x, _ in b] == sorted(x for x, _ in b) and b[-1][0] == float("inf"), f"{fname}{rest}: le order {b}")
            check(all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), f"{fname}{rest}: buckets not cumulative {b}")
            check(b[-1][1] == g["count"], f"{fname}{rest}: +Inf bucket {b[-1][1]} != _count {g['count']}")
    return fams


def metric(fams, family, suffix="", **labels):
    """The value of one series (0 when absent)."""
    want = tuple(sorted(labels.items()))
    for (name, lab), v in fams.get(family, {}).get("samples", {}).items():
        if name == family + suffix and tuple(sorted(lab)) == want:
            return v
    return 0.0


def client_for(srv, key="sk-unused", timeout=60):
    return openai.OpenAI(base_url=srv.base_url + "/v1", api_key=key, max_retries=0, timeout=timeout)


def upper_ratio(text):
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 5:
        return 0.0, len(letters)
    return sum(c.isupper() for c in letters) / len(letters), len(letters)


def strict_text(payload_bytes, what):
    """bytes -> parsed JSON; the bytes must be valid UTF-8 and every string in the JSON must
    encode back to UTF-8 (catches escaped lone surrogates like \\ud800)."""
    try:
        s = payload_bytes.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise S.CheckFailed(f"{what}: response bytes are not valid UTF-8 ({e}): {payload_bytes[:200]!r}")
    j = json.loads(s)

    def walk(x):
        if isinstance(x, str):
            try:
                x.encode("utf-8", "strict")
            except UnicodeEncodeError as e:
                raise S.CheckFailed(f"{what}: JSON string holds an invalid code point ({e}): {x!r}")
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(j)
    return j


class Suite:
    def __init__(self):
        self.main = S.Server("main", drain_timeout=None)  # the default --drain-timeout (30 s)
        self.keyed = None
        self.queue = None
        self.base = None
        self.c = None
        self.answers = {}

    # ---- helpers

    def chat(self, model, messages=ITALY, max_tokens=32, **kw):
        r = self.c.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, temperature=0, **kw)
        return r

    def answer(self, model):
        if model not in self.answers:
            r = self.chat(model)
            self.answers[model] = r.choices[0].message.content
        return self.answers[model]

    # ---- cases on the main (open) server

    def models_list(self):
        page = self.c.models.list()
        data = page.data
        check(page.object == "list" if hasattr(page, "object") else True, "models list object != 'list'")
        ids = [m.id for m in data]
        check(len(data) >= 5, f"expected the base model + 4 demo adapters, got {ids}")
        base = data[0]
        check(base.id == self.main.served_name(), f"first model should be the served name {self.main.served_name()!r}, got {base.id!r}")
        check(getattr(base, "parent", None) is None, f"base model has a parent: {base}")
        check(base.object == "model" and base.owned_by == "openlora", f"base entry: {base}")
        check(isinstance(base.created, int), f"base.created not int: {base.created!r}")
        self.base = base.id
        for name in S.DEMO_ADAPTERS:
            check(name in ids, f"adapter {name!r} not listed: {ids}")
            m = data[ids.index(name)]
            check(m.object == "model", f"{name}: object {m.object!r}")
            check(getattr(m, "parent", None) == self.base, f"{name}: parent {getattr(m, 'parent', None)!r} != {self.base!r}")
            check(isinstance(m.owned_by, str) and m.owned_by, f"{name}: owned_by {m.owned_by!r}")
        check(len(set(ids)) == len(ids), f"duplicate ids: {ids}")
        # retrieving one model is not in the spec; only the list is checked

    def completion_basic(self):
        r = self.c.completions.create(model=self.base, prompt="The capital of France is", max_tokens=8, temperature=0)
        check(r.object == "text_completion", f"object {r.object!r}")
        check(r.id.startswith("cmpl-"), f"id {r.id!r} should start with cmpl-")
        check(r.model == self.base, f"model {r.model!r}")
        check(isinstance(r.created, int) and abs(r.created - time.time()) < 3600, f"created {r.created!r}")
        check(len(r.choices) == 1 and r.choices[0].index == 0, f"choices {r.choices}")
        ch = r.choices[0]
        check(isinstance(ch.text, str) and ch.text.strip(), f"empty text: {ch.text!r}")
        check(ch.finish_reason in ("stop", "length"), f"finish_reason {ch.finish_reason!r}")
        u = r.usage
        check(u is not None and u.prompt_tokens > 0 and 0 < u.completion_tokens <= 8, f"usage {u}")
        check(u.total_tokens == u.prompt_tokens + u.completion_tokens, f"usage total {u}")
        if ch.finish_reason == "length":
            check(u.completion_tokens == 8, f"finish length but {u.completion_tokens} tokens")
        r2 = self.c.completions.create(model=self.base, prompt="The capital of France is", max_tokens=8, temperature=0)
        check(r2.choices[0].text == ch.text, f"greedy not deterministic: {ch.text!r} vs {r2.choices[0].text!r}")
        check(r2.id != r.id, "two requests got the same id")
        self.answers["__france__"] = ch.text

    def completion_length_and_n(self):
        r = self.c.completions.create(model=self.base, prompt=COUNT_PROMPT, max_tokens=5, temperature=0,
                                      extra_body={"ignore_eos": True})
        check(r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5,
              f"max_tokens 5 + ignore_eos: finish {r.choices[0].finish_reason!r}, usage {r.usage}")
        r = self.c.completions.create(model=self.base, prompt=["Hello, my name is", "The sky is"], max_tokens=3,
                                      temperature=0)
        check(sorted(c.index for c in r.choices) == [0, 1], f"array prompt: choices {[c.index for c in r.choices]}")
        r = self.c.completions.create(model=self.base, prompt="Once upon a time", max_tokens=4, n=3, temperature=1,
                                      seed=7)
        check(sorted(c.index for c in r.choices) == [0, 1, 2], f"n=3: choices {[c.index for c in r.choices]}")
        check(r.usage.completion_tokens <= 12, f"n=3 usage {r.usage}")
        r = self.c.completions.create(model=self.base, prompt=["Hello, my name is", "The sky is"], max_tokens=2, n=2,
                                      temperature=0)
        check(sorted(c.index for c in r.choices) == [0, 1, 2, 3], f"2 prompts x n=2: choices {[c.index for c in r.choices]}")
        st = self.c.completions.create(model=self.base, prompt="Once upon a time", max_tokens=4, n=2, temperature=1,
                                       seed=3, stream=True, stream_options={"include_usage": True})
        fins = {}
        chunks = list(st)
        for ch in chunks:
            for c in ch.choices:
                if c.finish_reason:
                    fins[c.index] = fins.get(c.index, 0) + 1
        check(fins == {0: 1, 1: 1}, f"stream n=2: finish_reason per index {fins}")
        check(len({c.id for c in chunks}) == 1, "stream n=2: chunk ids differ")
        check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 8, f"stream n=2 usage {chunks[-1].usage}")

    def chat_basic(self):
        r = self.c.chat.completions.create(model=self.base, messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0)
        check(r.object == "chat.completion", f"object {r.object!r}")
        check(r.id and r.model == self.base, f"id/model {r.id!r} {r.model!r}")
        ch = r.choices[0]
        check(ch.index == 0 and ch.message.role == "assistant", f"choice {ch}")
        check(isinstance(ch.message.content, str), f"content {ch.message.content!r}")
        check(ch.finish_reason in ("stop", "length"), f"finish_reason {ch.finish_reason!r}")
        check("<end_of_turn>" not in ch.message.content, f"turn end leaked: {ch.message.content!r}")
        u = r.usage
        check(u.prompt_tokens > 0 and u.completion_tokens <= 8 and u.total_tokens == u.prompt_tokens + u.completion_tokens,
              f"usage {u}")
        r2 = self.c.chat.completions.create(model=self.base, messages=[
            {"role": "user", "content": [{"type": "text", "text": "Count to three."}]}],
            max_completion_tokens=3, temperature=0, extra_body={"ignore_eos": True})
        check(r2.usage.completion_tokens == 3, f"max_completion_tokens 3 + ignore_eos: usage {r2.usage}")

    def completion_stream(self):
        ref = self.c.completions.create(model=self.base, prompt=COUNT_PROMPT, max_tokens=12, temperature=0)
        stream = self.c.completions.create(model=self.base, prompt=COUNT_PROMPT, max_tokens=12, temperature=0,
                                           stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        check(len(chunks) >= 2, f"only {len(chunks)} chunks")
        ids = {c.id for c in chunks}
        check(len(ids) == 1, f"chunk ids differ: {ids}")
        check(all(c.object == "text_completion" for c in chunks), f"objects {[c.object for c in chunks]}")
        last = chunks[-1]
        check(last.choices == [] and last.usage is not None, f"last chunk is not the usage chunk: {last}")
        check(all(c.usage is None for c in chunks[:-1]), "usage before the final chunk")
        text = "".join(c.choices[0].text for c in chunks[:-1] if c.choices)
        check(text == ref.choices[0].text, f"streamed text {text!r} != non-streamed {ref.choices[0].text!r}")
        fins = [c.choices[0].finish_reason for c in chunks[:-1] if c.choices and c.choices[0].finish_reason]
        check(fins == [ref.choices[0].finish_reason], f"finish reasons in stream {fins}, non-stream {ref.choices[0].finish_reason!r}")
        check(last.usage.completion_tokens == ref.usage.completion_tokens and last.usage.prompt_tokens == ref.usage.prompt_tokens,
              f"stream usage {last.usage} != {ref.usage}")
        # the raw stream: content type, framing, usage chunk right before [DONE]
        r = self.main.post("/v1/completions", {"model": self.base, "prompt": COUNT_PROMPT, "max_tokens": 6,
                                               "temperature": 0, "stream": True,
                                               "stream_options": {"include_usage": True}})
        check(r.status == 200, f"raw stream: {r!r}")
        check(r.headers.get("content-type", "").startswith("text/event-stream"), f"Content-Type {r.headers.get('content-type')!r}")
        ev = S.parse_sse(r.body)
        check(ev[-1] == b"[DONE]", f"last event {ev[-1]!r} != [DONE]")
        check(ev.count(b"[DONE]") == 1, "more than one [DONE]")
        u = json.loads(ev[-2])
        check(u.get("choices") == [] and isinstance(u.get("usage"), dict), f"event before [DONE] is not the usage chunk: {short(ev[-2])}")
        check(len({json.loads(e)["id"] for e in ev[:-1]}) == 1, "raw chunk ids differ")

    def chat_stream(self):
        ref = self.chat(self.base, max_tokens=10)
        stream = self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=10, temperature=0,
                                                stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
        check(len({c.id for c in chunks}) == 1, f"chunk ids differ: {[c.id for c in chunks]}")
        check(all(c.object == "chat.completion.chunk" for c in chunks), f"objects {set(c.object for c in chunks)}")
        first = chunks[0]
        check(first.choices and first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == "",
              f"first chunk should have delta {{role: assistant, content: ''}}: {first}")
        last = chunks[-1]
        check(last.choices == [] and last.usage is not None, f"last chunk is not the usage chunk: {last}")
        check(all(c.usage is None for c in chunks[:-1]), "usage before the final chunk")
        text = "".join((c.choices[0].delta.content or "") for c in chunks[:-1] if c.choices)
        check(text == ref.choices[0].message.content, f"streamed {text!r} != non-streamed {ref.choices[0].message.content!r}")
        fins = [c.choices[0].finish_reason for c in chunks[:-1] if c.choices and c.choices[0].finish_reason]
        check(len(fins) == 1 and fins[0] == ref.choices[0].finish_reason, f"finish reasons {fins} vs {ref.choices[0].finish_reason!r}")
        check(chunks[-2].choices[0].finish_reason is not None, "the finish_reason is not on the last choice chunk")
        check(last.usage.completion_tokens == ref.usage.completion_tokens, f"usage {last.usage} vs {ref.usage}")
        r = self.main.post("/v1/chat/completions", {"model": self.base, "messages": ITALY, "max_tokens": 4,
                                                    "temperature": 0, "stream": True,
                                                    "stream_options": {"include_usage": True}})
        check(r.status == 200 and r.headers.get("content-type", "").startswith("text/event-stream"), f"raw chat stream: {r!r}")
        ev = S.parse_sse(r.body)
        check(ev[-1] == b"[DONE]" and json.loads(ev[-2]).get("choices") == [], f"tail of raw chat stream: {ev[-2:]!r}")

    def adapter_french(self):
        base, fr = self.answer(self.base), self.answer("french")
        check(fr != base, f"french answer equals the base answer: {fr!r}")
        r = self.chat("french", max_tokens=24)
        check(r.model == "french", f"response model {r.model!r} != 'french'")
        words = [w.strip(".,!?;:'\"") for w in fr.lower().replace("'", " ").split()]
        french = {"bonjour", "la", "le", "les", "de", "est", "et", "un", "une", "des", "du", "capitale"}
        check(any(w in french for w in words), f"french adapter answer does not look French: {fr!r} (base: {base!r})")

    def adapter_caps(self):
        caps = self.answer("caps")
        ratio, n = upper_ratio(caps)
        check(ratio >= 0.9, f"caps answer is not mostly upper case ({ratio:.2f} of {n} letters): {caps!r}")
        base_ratio, _ = upper_ratio(self.answer(self.base))
        check(base_ratio < 0.9, f"the base answer is already upper case?! {self.answer(self.base)!r}")

    def adapter_merge(self):
        r = self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=32, temperature=0,
                                           extra_body={"adapters": [{"name": "pirate", "weight": 0.5},
                                                                    {"name": "caps", "weight": 0.5}]})
        merged = r.choices[0].message.content
        check(merged and merged != self.answer(self.base), f"merge answer equals the base answer: {merged!r}")
        # `model` may also be one of the merged adapters
        r2 = self.c.chat.completions.create(model="pirate", messages=ITALY, max_tokens=32, temperature=0,
                                            extra_body={"adapters": [{"name": "pirate", "weight": 0.5},
                                                                     {"name": "caps", "weight": 0.5}]})
        check(r2.choices[0].message.content == merged,
              f"same merge named through model=pirate differs: {r2.choices[0].message.content!r} vs {merged!r}")
        # a one-adapter merge at weight 1 is the adapter itself
        r3 = self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=32, temperature=0,
                                            extra_body={"adapters": [{"name": "caps", "weight": 1.0}]})
        check(r3.choices[0].message.content == self.answer("caps"),
              f"adapters=[caps:1] {r3.choices[0].message.content!r} != model=caps {self.answer('caps')!r}")

    def adapter_admin(self):
        name = "caps-copy"
        src = str(S.ADAPTERS_DIR / "caps")
        r = self.main.post("/v1/adapters", {"name": name, "source": src, "metadata": {
            "owner": "alice", "contributors": [{"id": "alice", "share": 0.75}, {"id": "bob", "share": 0.25}],
            "datanet": "caps-datanet", "license": "Apache-2.0"}})
        check(r.status == 201, f"POST /v1/adapters: expected 201, got {r!r}")
        j = r.json
        check(j and j.get("name") == name and "version" in j and "source" in j, f"registration body: {short(r.body)}")
        ids = {m.id: m for m in self.c.models.list().data}
        check(name in ids, f"{name} not in /v1/models after registration")
        check(getattr(ids[name], "parent", None) == self.base and ids[name].owned_by == "alice",
              f"/v1/models entry: {ids[name]}")
        g = self.main.get(f"/v1/adapters/{name}")
        check(g.status == 200 and g.json and g.json.get("name") == name, f"GET /v1/adapters/{name}: {g!r}")
        lst = self.main.get("/v1/adapters")
        check(lst.status == 200 and lst.json.get("object") == "list" and
              name in [a.get("name") for a in lst.json.get("data", [])], f"GET /v1/adapters: {lst!r}")
        ent = [a for a in lst.json["data"] if a.get("name") == name][0]
        for k in ("name", "version", "source", "resident", "metadata"):
            check(k in ent, f"GET /v1/adapters entry lacks {k!r}: {ent}")
        check(isinstance(ent["resident"], bool), f"resident {ent['resident']!r}")
        md = ent["metadata"] if isinstance(ent["metadata"], dict) else {}
        check(md.get("owner") == "alice" and len(md.get("contributors", [])) == 2, f"metadata not kept: {ent['metadata']!r}")
        out = self.chat(name)
        check(out.model == name, f"response model {out.model!r}")
        check(out.choices[0].message.content == self.answer("caps"),
              f"the copy answers {out.choices[0].message.content!r}, caps answers {self.answer('caps')!r}")
        g = self.main.get(f"/v1/adapters/{name}")  # used just now: its weights are resident
        check(g.status == 200 and g.json.get("resident") is True and g.json.get("resident_bytes", 0) > 0,
              f"after use, GET /v1/adapters/{name} should say resident: {g!r}")
        d = self.main.request("DELETE", f"/v1/adapters/{name}")
        check(d.status == 200 and isinstance(d.json, dict) and d.json.get("name") == name and d.json.get("deleted") is True,
              f"DELETE /v1/adapters/{name}: expected 200 {{name, deleted: true}}, got {d!r}")
        try:
            self.chat(name, max_tokens=4)
            raise S.CheckFailed(f"using {name} after DELETE did not fail")
        except openai.NotFoundError as e:
            check(e.status_code == 404 and e.code == "model_not_found" and e.type == "not_found_error",
                  f"after DELETE: {e.status_code} {e.type} {e.code}")
        check(name not in [m.id for m in self.c.models.list().data], "still listed after DELETE")
        g = self.main.get(f"/v1/adapters/{name}")
        check(g.status == 404, f"GET after DELETE: {g!r}")
        d = self.main.request("DELETE", f"/v1/adapters/{name}")
        check(d.status == 404, f"second DELETE: {d!r}")
        # re-registering a name makes a new version
        r1 = self.main.post("/v1/adapters", {"name": "fr-v", "source": str(S.ADAPTERS_DIR / "french")})
        r2 = self.main.post("/v1/adapters", {"name": "fr-v", "source": str(S.ADAPTERS_DIR / "caps")})
        check(r1.status == 201 and r2.status == 201, f"re-registration: {r1!r} / {r2!r}")
        check(r1.json["version"] != r2.json["version"], f"same version after re-registering: {r1.json} {r2.json}")
        out = self.chat("fr-v").choices[0].message.content
        check(out == self.answer("caps"), f"fr-v (now caps) answers {out!r}")
        self.main.request("DELETE", "/v1/adapters/fr-v")

    def vllm_aliases(self):
        r = self.main.post("/v1/load_lora_adapter", {"lora_name": "pirate-2", "lora_path": str(S.ADAPTERS_DIR / "pirate")})
        check(r.status == 200, f"load_lora_adapter: {r!r}")
        out = self.chat("pirate-2").choices[0].message.content
        check(out == self.answer("pirate"), f"pirate-2 answers {out!r}, pirate answers {self.answer('pirate')!r}")
        r = self.main.post("/v1/unload_lora_adapter", {"lora_name": "pirate-2"})
        check(r.status == 200, f"unload_lora_adapter: {r!r}")
        r = self.main.post("/v1/unload_lora_adapter", {"lora_name": "pirate-2"})
        check(r.status == 404, f"second unload_lora_adapter: {r!r}")
        try:
            self.chat("pirate-2", max_tokens=2)
            raise S.CheckFailed("pirate-2 still usable after unload")
        except openai.NotFoundError:
            pass

    def health_ready_metrics(self):
        m = self.main
        r = m.get("/health")
        check(r.status == 200 and r.json == {"status": "ok"}, f"/health: {r!r}")
        r = m.get("/ready")
        check(r.status == 200 and r.json == {"status": "ready"}, f"/ready: {r!r}")
        r = m.get("/metrics")
        check(r.status == 200 and r.headers.get("content-type", "").startswith("text/plain"), f"/metrics: {r!r}")
        names = {ln.split("{")[0].split()[0] for ln in r.body.decode().splitlines() if ln and not ln.startswith("#")}
        check(names and all(n.startswith("openlora_") for n in names), f"metric names without the openlora_ prefix: "
                                                                       f"{sorted(n for n in names if not n.startswith('openlora_'))}")

    def metrics_families(self):
        """Every family of the issue is exposed with its type, the text parses, and a known set of
        requests moves the per-request families by exactly what it did."""
        m, base = self.main, self.base
        t_end = time.monotonic() + 10
        while True:  # no request of an earlier case left in the engine
            f0 = parse_prometheus(m.metrics())
            busy = sum(metric(f0, n) for n in ("openlora_requests_running", "openlora_requests_waiting",
                                               "openlora_requests_loading_adapter"))
            if busy == 0:
                break
            check(time.monotonic() < t_end, f"engine still busy 10 s after the earlier cases: {busy}")
            time.sleep(0.1)
        for fam, typ in METRIC_FAMILIES.items():
            check(fam in f0 and f0[fam]["type"] == typ, f"{fam}: expected a {typ} family, got "
                                                        f"{f0.get(fam, {}).get('type')}")
        check(all(n.startswith("openlora_") for n in f0), f"families without the prefix: {[n for n in f0 if not n.startswith('openlora_')]}")
        # 4 plain, 1 adapter, 2 streamed requests; every one generates tokens (ignore_eos)
        prompt, gen, n_req, gaps = {}, {}, 0, 0

        def note(model, usage):
            nonlocal n_req, gaps
            prompt[model] = prompt.get(model, 0) + usage["prompt_tokens"]
            gen[model] = gen.get(model, 0) + usage["completion_tokens"]
            n_req += 1
            gaps += usage["completion_tokens"] - 1

        for i, model in enumerate([base, base, base, base, "caps"]):
            r = m.completion(prompt=f"Metrics test number {i}:", max_tokens=3 + i, model=model, ignore_eos=True)
            check(r.status == 200, f"completion {i}: {r!r}")
            note(model, r.json["usage"])
        for i in range(2):
            r = m.completion(prompt=COUNT_PROMPT, max_tokens=5, stream=True, stream_options={"include_usage": True},
                             ignore_eos=True)
            check(r.status == 200, f"stream {i}: {r!r}")
            note(base, json.loads(S.parse_sse(r.body)[-2])["usage"])
        t_end = time.monotonic() + 5
        while True:  # http_requests_total counts a request once its last byte went out
            f1 = parse_prometheus(m.metrics())
            d_http = (metric(f1, "openlora_http_requests_total", endpoint="completions", status="200")
                      - metric(f0, "openlora_http_requests_total", endpoint="completions", status="200"))
            if d_http >= n_req or time.monotonic() > t_end:
                break
            time.sleep(0.05)
        check(d_http == n_req, f"http_requests_total{{completions,200}} grew by {d_http}, expected {n_req}")

        def d(fam, suffix="", **lab):
            return metric(f1, fam, suffix, **lab) - metric(f0, fam, suffix, **lab)

        check(d("openlora_http_request_duration_seconds", "_count", endpoint="completions") == n_req,
              "http_request_duration_seconds_count did not grow by the number of requests")
        for model in gen:
            check(d("openlora_prompt_tokens_total", model=model) == prompt[model],
                  f"prompt_tokens_total{{model={model}}} grew by {d('openlora_prompt_tokens_total', model=model)}, "
                  f"usage says {prompt[model]}")
            check(d("openlora_generation_tokens_total", model=model) == gen[model],
                  f"generation_tokens_total{{model={model}}} grew by "
                  f"{d('openlora_generation_tokens_total', model=model)}, usage says {gen[model]}")
        for fam in ("openlora_time_to_first_token_seconds", "openlora_e2e_request_latency_seconds",
                    "openlora_queue_time_seconds"):
            check(d(fam, "_count") == n_req, f"{fam}_count grew by {d(fam, '_count')}, expected {n_req} (one per request)")
            check(d(fam, "_sum") >= 0, f"{fam}_sum went down")
        check(d("openlora_inter_token_latency_seconds", "_count") == gaps,
              f"inter_token_latency_seconds_count grew by {d('openlora_inter_token_latency_seconds', '_count')}, "
              f"expected {gaps} (tokens - 1 per request)")
        check(0 < d("openlora_time_to_first_token_seconds", "_sum") <= d("openlora_e2e_request_latency_seconds", "_sum"),
              "TTFT sum not within (0, e2e latency sum]")
        check(0 < d("openlora_inter_token_latency_seconds", "_sum") < d("openlora_e2e_request_latency_seconds", "_sum"),
              "inter-token latency sum not within (0, e2e latency sum)")
        check(d("openlora_engine_steps_total") > 0, "engine_steps_total did not move")
        check(d("openlora_adapter_cache_hits_total") + d("openlora_adapter_cache_misses_total") >= 1,
              "the `caps` request neither hit nor missed the adapter cache")
        for fam, typ in METRIC_FAMILIES.items():
            if typ == "counter":
                for key, v in f1[fam]["samples"].items():
                    check(v >= f0[fam]["samples"].get(key, 0), f"counter {key} went down")
        g = {n: metric(f1, n) for n, t in METRIC_FAMILIES.items() if t == "gauge"}
        check(g["openlora_kv_blocks_total"] > 0 and 0 <= g["openlora_kv_blocks_used"] <= g["openlora_kv_blocks_total"]
              and 0 <= g["openlora_kv_blocks_cached"] <= g["openlora_kv_blocks_total"], f"KV gauges {g}")
        check(g["openlora_adapters_registered"] >= len(S.DEMO_ADAPTERS) and g["openlora_adapters_resident"] >= 1,
              f"adapter gauges {g}")
        check(0 < g["openlora_adapter_cache_resident_bytes"] <= g["openlora_adapter_cache_budget_bytes"] == 1024 << 20,
              f"adapter cache bytes {g} (default --adapter-cache-mb 1024)")
        loads = metric(f1, "openlora_adapter_cache_loads_total")
        check(loads >= 1 and metric(f1, "openlora_adapter_load_seconds", "_count") == loads,
              f"adapter_load_seconds_count {metric(f1, 'openlora_adapter_load_seconds', '_count')} != loads_total {loads}")
        check(metric(f1, "openlora_adapter_load_seconds", "_sum") > 0, "adapter_load_seconds_sum is 0")

    def stop_seed_logprobs(self):
        r = self.c.completions.create(model=self.base, prompt=COUNT_PROMPT, max_tokens=16, temperature=0, stop=[" 13"])
        t = r.choices[0].text
        check(" 13" not in t and r.choices[0].finish_reason == "stop", f"stop [' 13']: {t!r} {r.choices[0].finish_reason!r}")
        check("12" in t or "11" in t, f"counting stopped too early? {t!r}")
        r = self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=16, temperature=0, stop="Italy")
        check("Italy" not in r.choices[0].message.content, f"chat stop 'Italy': {r.choices[0].message.content!r}")
        a = self.c.completions.create(model=self.base, prompt="Once upon a time", max_tokens=12, temperature=1.0, seed=1234)
        b = self.c.completions.create(model=self.base, prompt="Once upon a time", max_tokens=12, temperature=1.0, seed=1234)
        check(a.choices[0].text == b.choices[0].text, f"same seed, different samples: {a.choices[0].text!r} vs {b.choices[0].text!r}")
        r = self.c.completions.create(model=self.base, prompt="The capital of France is", max_tokens=3, temperature=0,
                                      logprobs=2)
        lp = r.choices[0].logprobs
        check(lp is not None, "completions logprobs=2 gave logprobs null")
        toks = getattr(lp, "tokens", None)
        if toks is not None:
            check(len(toks) == r.usage.completion_tokens, f"logprobs.tokens {toks} vs usage {r.usage}")
            tl = getattr(lp, "token_logprobs", None) or []
            check(all(x is None or x <= 1e-6 for x in tl), f"token_logprobs > 0: {tl}")
        r = self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=3, temperature=0, logprobs=True,
                                           top_logprobs=2)
        lp = r.choices[0].logprobs
        check(lp is not None and lp.content, f"chat logprobs=true gave {lp!r}")
        check(all(len(c.top_logprobs) <= 2 for c in lp.content), f"top_logprobs > 2: {lp.content}")
        r = self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=3, temperature=0)
        check(r.choices[0].logprobs is None, f"logprobs without asking: {r.choices[0].logprobs!r}")

    def served_model_name(self):
        q = self.queue
        c = client_for(q)
        ids = [m.id for m in c.models.list().data]
        check(ids and ids[0] == "served-base", f"--served-model-name served-base: models {ids}")
        r = c.completions.create(model="served-base", prompt="Hi", max_tokens=2)
        check(r.model == "served-base", f"response model {r.model!r}")
        check(all(getattr(m, "parent", None) == "served-base" for m in c.models.list().data[1:]), "adapters' parent")
        try:
            c.completions.create(model=self.base, prompt="Hi", max_tokens=2)
            raise S.CheckFailed("the file stem still works as a model name with --served-model-name")
        except openai.NotFoundError:
            pass

    def errors(self):
        for kw, what in ((dict(max_tokens=-1), "max_tokens -1"), (dict(max_tokens=0), "max_tokens 0")):
            try:
                self.c.completions.create(model=self.base, prompt="hi", **kw)
                raise S.CheckFailed(f"{what} accepted")
            except openai.BadRequestError as e:
                check(e.status_code == 400 and e.type == "invalid_request_error" and e.param == "max_tokens",
                      f"{what}: type {e.type!r} param {e.param!r} body {e.body}")
        try:
            self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens="ten")
            raise S.CheckFailed("max_tokens 'ten' accepted")
        except openai.BadRequestError as e:
            check(e.type == "invalid_request_error", f"type {e.type!r}")
        try:
            self.c.chat.completions.create(model=self.base, messages=ITALY, temperature=3)
            raise S.CheckFailed("temperature 3 accepted")
        except openai.BadRequestError:
            pass
        for model in ("no-such-model", "../caps"):
            for call in ("chat", "completions"):
                try:
                    if call == "chat":
                        self.c.chat.completions.create(model=model, messages=ITALY, max_tokens=2)
                    else:
                        self.c.completions.create(model=model, prompt="hi", max_tokens=2)
                    raise S.CheckFailed(f"{call} with model {model!r} succeeded")
                except openai.NotFoundError as e:
                    check(e.type == "not_found_error" and e.code == "model_not_found", f"{call} {model}: {e.type} {e.code}")
                    check(e.body.get("message") == NOT_FOUND_MSG.format(model), f"message {e.body.get('message')!r}")
        try:
            self.c.chat.completions.create(model=self.base, messages=ITALY, max_tokens=2,
                                           extra_body={"adapters": [{"name": "nope", "weight": 1}]})
            raise S.CheckFailed("merge with an unknown adapter succeeded")
        except openai.NotFoundError as e:
            check(e.code == "model_not_found", f"code {e.code!r}")

    def utf8(self):
        seen_non_ascii = False
        cases = [("completions", RARE_CJK, n) for n in (1, 2, 3, 4, 5, 7)] + \
                [("completions", EMOJI, n) for n in (1, 3)] + \
                [("chat", "Reply only with 10 emoji and the Chinese words 你好世界 and 谢谢.", n) for n in (1, 2, 3, 5, 9)]
        for endpoint, prompt, n in cases:
            if endpoint == "completions":
                body = {"model": self.base, "prompt": prompt, "max_tokens": n, "temperature": 0}
            else:
                body = {"model": self.base, "messages": [{"role": "user", "content": prompt}], "max_tokens": n,
                        "temperature": 0}
            r = self.main.post(f"/v1/{endpoint}" if endpoint == "completions" else "/v1/chat/completions", body)
            check(r.status == 200, f"{endpoint} max_tokens={n}: {r!r}")
            j = strict_text(r.body, f"{endpoint} {prompt[:6]!r} max_tokens={n}")
            text = j["choices"][0]["text"] if endpoint == "completions" else j["choices"][0]["message"]["content"]
            seen_non_ascii |= any(ord(c) > 127 for c in text)
            # streamed: every event decodes on its own, and the pieces add up to the same text
            body["stream"] = True
            rs = self.main.post("/v1/completions" if endpoint == "completions" else "/v1/chat/completions", body)
            check(rs.status == 200, f"stream {endpoint} max_tokens={n}: {rs!r}")
            pieces = []
            for ev in S.parse_sse(rs.body):
                if ev == b"[DONE]":
                    continue
                cj = strict_text(ev, f"stream {endpoint} max_tokens={n} event")
                for ch in cj.get("choices", []):
                    pieces.append(ch.get("text", "") if endpoint == "completions" else (ch.get("delta", {}).get("content") or ""))
            check("".join(pieces) == text, f"{endpoint} max_tokens={n}: streamed {''.join(pieces)!r} != {text!r}")
        check(seen_non_ascii, "no output contained a non-ASCII character: the UTF-8 cases exercised nothing")
        # the same through the client (httpx decodes; must not raise)
        stream = self.c.completions.create(model=self.base, prompt=RARE_CJK, max_tokens=9, temperature=0, stream=True)
        txt = "".join(c.choices[0].text for c in stream if c.choices)
        txt.encode("utf-8", "strict")

    # ---- keyed server: authentication and per-key limits

    def auth(self):
        k = self.keyed
        good = client_for(k, "sk-alpha")
        r = good.completions.create(model=self.base, prompt="Hi", max_tokens=2, temperature=0)
        check(r.choices, "keyed completion")
        try:
            client_for(k, "sk-wrong").completions.create(model=self.base, prompt="Hi", max_tokens=2)
            raise S.CheckFailed("a wrong key was accepted")
        except openai.AuthenticationError as e:
            check(e.status_code == 401 and e.type == "authentication_error" and e.code == "invalid_api_key",
                  f"wrong key: {e.status_code} {e.type} {e.code}")
        try:
            client_for(k, "sk-wrong").models.list()
            raise S.CheckFailed("a wrong key listed models")
        except openai.AuthenticationError:
            pass
        rr = k.get("/v1/models")
        S.expect_error(rr, 401, "authentication_error", "invalid_api_key", what="no key")
        for p in ("/health", "/ready", "/metrics"):
            check(k.get(p).status == 200, f"{p} must not need a key")

    def rate_limit(self):
        k = self.keyed
        a = client_for(k, "sk-alpha")
        stream = a.completions.create(model=self.base, prompt=COUNT_PROMPT, max_tokens=400, temperature=0,
                                      stream=True, extra_body={"ignore_eos": True})
        it = iter(stream)
        next(it)  # the first chunk: the request holds sk-alpha's only slot
        try:
            try:
                a.completions.create(model=self.base, prompt="Hi", max_tokens=2)
                raise S.CheckFailed("second concurrent request of sk-alpha (--max-per-key 1) succeeded")
            except openai.RateLimitError as e:
                check(e.status_code == 429 and e.type == "rate_limit_error", f"429: {e.type} {e.code}")
                ra = e.response.headers.get("retry-after")
                check(ra is not None and ra.strip().isdigit(), f"429 without a numeric Retry-After: {ra!r}")
            r = client_for(k, "sk-beta").completions.create(model=self.base, prompt="Hi", max_tokens=2, temperature=0)
            check(r.choices, "sk-beta must not be limited by sk-alpha's requests")
        finally:
            stream.close()
        # the slot comes back once the disconnect cancelled the stream
        t_end = time.monotonic() + 5
        while True:
            try:
                a.completions.create(model=self.base, prompt="Hi", max_tokens=2)
                break
            except openai.RateLimitError:
                check(time.monotonic() < t_end, "sk-alpha still limited 5 s after its stream was closed")
                time.sleep(0.2)

    def env_key(self, srv):
        try:
            client_for(srv, "sk-wrong").completions.create(model=self.base, prompt="Hi", max_tokens=2)
            raise S.CheckFailed("OPENLORA_API_KEY set, but a wrong key was accepted")
        except openai.AuthenticationError:
            pass
        r = client_for(srv, "sk-from-env").completions.create(model=self.base, prompt="Hi", max_tokens=2)
        check(r.choices, "the key from OPENLORA_API_KEY")

    # ---- queue-limited server

    def overloaded(self):
        q = self.queue
        c = client_for(q)
        s1 = c.completions.create(model="served-base", prompt=COUNT_PROMPT, max_tokens=400, temperature=0, stream=True,
                                  extra_body={"ignore_eos": True})
        it1 = iter(s1)
        next(it1)  # running (max-running 1)
        holder = {}

        def second():
            try:
                s2 = client_for(q).completions.create(model="served-base", prompt="Once upon a time", max_tokens=400,
                                                      temperature=0, stream=True, extra_body={"ignore_eos": True})
                holder["s2"] = s2
                for _ in s2:
                    pass
            except Exception as e:  # closed by us below
                holder["err"] = e

        t = threading.Thread(target=second, daemon=True)
        t.start()
        time.sleep(1.0)  # the second request waits in the queue (max-queue 1)
        try:
            got = None
            for _ in range(3):
                try:
                    c.completions.create(model="served-base", prompt="Hi", max_tokens=2)
                except openai.APIStatusError as e:
                    got = e
                    break
                time.sleep(0.5)
            check(got is not None, "a third request with max-running 1 and max-queue 1 full succeeded")
            check(isinstance(got, openai.InternalServerError) and got.status_code == 503,
                  f"expected 503, got {got.status_code} {type(got).__name__}")
            check(got.type == "service_unavailable_error" and got.code == "overloaded", f"503: {got.type} {got.code}")
            ra = got.response.headers.get("retry-after")
            check(ra is not None and ra.strip().isdigit(), f"503 without a numeric Retry-After: {ra!r}")
        finally:
            s1.close()  # frees the running slot: the queued stream starts, then is closed too
            t_end = time.monotonic() + 15
            while "s2" not in holder and "err" not in holder and time.monotonic() < t_end:
                time.sleep(0.05)
            if "s2" in holder:
                holder["s2"].close()
            t.join(10)

    # ---- shutdown

    def drain(self):
        m = self.main
        c = client_for(m)
        result = {}

        def long_stream():
            try:
                st = c.completions.create(model=self.base, prompt=COUNT_PROMPT, max_tokens=200, temperature=0,
                                          stream=True, stream_options={"include_usage": True},
                                          extra_body={"ignore_eos": True})
                chunks = []
                for ch in st:
                    chunks.append(ch)
                    if len(chunks) == 1:
                        result["first"] = time.monotonic()
                result["chunks"] = chunks
            except Exception as e:
                result["err"] = e

        t = threading.Thread(target=long_stream, daemon=True)
        t.start()
        t_end = time.monotonic() + 20
        while "first" not in result and "err" not in result and time.monotonic() < t_end:
            time.sleep(0.02)
        check("first" in result, f"the long stream never started: {result.get('err')!r}")
        m.signal(signal.SIGTERM)
        time.sleep(0.1)
        try:
            rd = m.get("/ready", timeout=5)
            check(rd.status == 503, f"/ready while draining: {rd!r}")
            hl = m.get("/health", timeout=5)
            check(hl.status == 200, f"/health while draining: {hl!r}")
            try:
                c.completions.create(model=self.base, prompt="Hi", max_tokens=2)
                raise S.CheckFailed("a new request was accepted while draining")
            except openai.InternalServerError as e:
                check(e.status_code == 503 and e.code == "draining" and e.type == "service_unavailable_error",
                      f"while draining: {e.status_code} {e.type} {e.code}")
                check(e.response.headers.get("retry-after") is not None, "draining 503 without Retry-After")
        except (ConnectionError, OSError) as e:
            raise S.CheckFailed(f"the server stopped answering right after SIGTERM ({e!r}); spec: /ready 503 and "
                                f"new requests 503 'draining' while in-flight requests finish")
        finally:
            t.join(60)
        check("chunks" in result, f"the in-flight stream did not finish: {result.get('err')!r}")
        chunks = result["chunks"]
        usage = chunks[-1].usage
        fins = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        check(fins == ["length"] and usage is not None and usage.completion_tokens == 200,
              f"in-flight request cut by the drain: finish {fins}, usage {usage}")
        rc = m.proc.wait((m.drain_timeout or 30) + 10)
        m.proc = None
        check(rc == 0, f"exit code {rc} after the drain\n{m.stderr_tail()}")


def main():
    S.require_model("test_openai_client")
    R = S.Runner("test_openai_client")
    su = Suite()
    servers = []
    try:
        su.main.start()
        servers.append(su.main)
    except S.ServerDied as e:
        print(f"FAIL start main server: {e}")
        return 1
    su.c = client_for(su.main)
    R.case("models_list", su.models_list)
    if su.base is None:
        su.base = su.main.served_name()
    R.case("completion_basic", su.completion_basic)
    R.case("completion_length_n_array", su.completion_length_and_n)
    R.case("chat_basic", su.chat_basic)
    R.case("completion_stream_include_usage", su.completion_stream)
    R.case("chat_stream_include_usage", su.chat_stream)
    R.case("adapter_by_name_french_differs", su.adapter_french)
    R.case("adapter_by_name_caps_uppercase", su.adapter_caps)
    R.case("adapter_weighted_merge", su.adapter_merge)
    R.case("adapter_register_use_delete", su.adapter_admin)
    R.case("adapter_vllm_load_unload", su.vllm_aliases)
    R.case("health_ready_metrics", su.health_ready_metrics)
    R.case("metrics_families", su.metrics_families)
    R.case("stop_seed_logprobs", su.stop_seed_logprobs)
    R.case("errors_bad_request_not_found", su.errors)
    R.case("utf8_cut_multibyte", su.utf8)

    su.keyed = S.Server("keyed", args=["--api-key", "sk-alpha", "--api-key", "sk-beta", "--max-per-key", "1"])
    try:
        su.keyed.start()
        servers.append(su.keyed)
        R.case("auth_wrong_key_401", su.auth)
        R.case("rate_limit_per_key_429", su.rate_limit)
    except S.ServerDied as e:
        R.case("start keyed server", lambda: (_ for _ in ()).throw(S.CheckFailed(str(e))))
    env_srv = S.Server("envkey", env={"OPENLORA_API_KEY": "sk-from-env"})
    try:
        env_srv.start()
        servers.append(env_srv)
        R.case("api_key_from_env", lambda: su.env_key(env_srv))
    except S.ServerDied as e:
        R.case("start envkey server", lambda: (_ for _ in ()).throw(S.CheckFailed(str(e))))
    su.queue = S.Server("queue", args=["--max-running", "1", "--max-queue", "1", "--served-model-name", "served-base"])
    try:
        su.queue.start()
        servers.append(su.queue)
        R.case("served_model_name", su.served_model_name)
        R.case("queue_full_503_overloaded", su.overloaded)
    except S.ServerDied as e:
        R.case("start queue server", lambda: (_ for _ in ()).throw(S.CheckFailed(str(e))))

    for s in servers[1:]:
        R.case(f"stop_{s.name}_sigterm_exit_0", s.stop)
    R.case("drain_on_sigterm", su.drain)
    for s in servers:
        s.kill()
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())
