"""End-to-end: the attribution ledger of `openlora serve` (src/ledger/ledger.h, src/server/usage.c).

Run: .venv/bin/python tests/e2e/test_ledger.py --store sqlite
     .venv/bin/python tests/e2e/pgtemp.py -- .venv/bin/python tests/e2e/test_ledger.py --store postgresql
(OL_BIN=build/openlora by default; --case NAME runs one case; --keep keeps the work directories.)

Every case starts real servers, each in a directory of its own as cwd, so the ledger's default
files (openlora-ledger.db, .key, .key.pub, openlora-ledger-checkpoints/) land there; PostgreSQL
cases get a fresh database each (CREATE DATABASE through psql on OL_TEST_PG_URL). The ledger is
read back independently: Python's sqlite3, or psql, and tools/ledger_hash.py recomputes the chain.
Cases:
  crash_kill9_under_stream_load   SIGKILL at random moments under streaming load, clients retry
                                  with the same X-Request-Id: verify after every restart, every
                                  completed stream recorded exactly once with the tokens it saw
  tamper_evidence                 edit / delete / swap / truncate / re-hash rows of a copy:
                                  `ledger verify` exits 1 naming the first bad seq
  report_by_hand                  `ledger report` and GET /v1/usage against a hand computation
                                  from the client's usage numbers and the adapters' metadata
  write_failure_disk_full         RLIMIT_FSIZE (EFBIG): 503 ledger_unavailable, /ready 503,
                                  recovery, the withheld record committed exactly once (SQLite)
  write_failure_read_only         chattr +i on the database: the same (SQLite)
  dedup_keys_and_abort            X-Request-Id dedup per API key, a client disconnect records
                                  finish_reason "abort"
  two_servers_one_chain           two servers on one PostgreSQL database: one unbroken chain
Prints one PASS/FAIL line per case; exits 1 on any failure, 0 when all pass or the model (or,
for --store postgresql, OL_TEST_PG_URL) is missing.
"""

import argparse
import collections
import csv
import hashlib
import http.client
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server as S  # noqa: E402
from server import check, short  # noqa: E402

sys.path.insert(0, str(S.REPO / "tools"))
import ledger_hash as LH  # noqa: E402  (tools/ledger_hash.py: the chain, reimplemented)

import openai  # noqa: E402

DB = "openlora-ledger.db"
KEY = "openlora-ledger.key"
CKPT = "openlora-ledger-checkpoints"
PROMPTS = ["The capital of France is", "Tell me about the sea.", "1, 2, 3, 4,", "Why is the sky blue?",
           "Write a haiku about tea.", "Name three colours:"]
TOL = 1e-6


# ---- small helpers --------------------------------------------------------------------------


def cli(args, cwd, timeout=120):
    """`openlora ledger ARGS` -> CompletedProcess (text)."""
    return subprocess.run([str(S.bin_path()), "ledger", *[str(a) for a in args]], cwd=str(cwd),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def close(a, b, tol=TOL):
    return abs(float(a) - float(b)) <= tol


def client_for(srv, key="sk-unused", timeout=120):
    return openai.OpenAI(base_url=srv.base_url + "/v1", api_key=key, max_retries=0, timeout=timeout)


def sql_lit(v):
    """A PostgreSQL literal for an int, str, bytes or None."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return f"decode('{bytes(v).hex()}', 'hex')"
    s = str(v)
    check("$olq$" not in s, "value holds the dollar-quote tag")
    return f"$olq${s}$olq$"


def stream_once(host, port, path, body, headers=None, timeout=60, stop_after=None, on_done=None):
    """POST a streaming request on a fresh connection and read its SSE events.
    stop_after: close the connection after that many content events (a client going away).
    on_done: called the moment `data: [DONE]` arrives.
    Returns a dict: status, done ([DONE] seen), usage, finish, id, n_content, error (an error
    event's object), exc (what broke the connection), body (non-200)."""
    res = {"status": None, "done": False, "usage": None, "finish": None, "id": None,
           "n_content": 0, "error": None, "exc": None, "body": b"", "events": 0}
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body).encode(), hdrs)
        resp = conn.getresponse()
        res["status"] = resp.status
        if resp.status != 200:
            res["body"] = resp.read()
            return res
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.rstrip(b"\r\n")
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            res["events"] += 1
            if data == b"[DONE]":
                res["done"] = True
                if on_done:
                    on_done()
                continue
            j = json.loads(data)
            if "error" in j:
                res["error"] = j["error"]
                continue
            res["id"] = j.get("id", res["id"])
            for ch in j.get("choices") or []:
                content = ch.get("text")
                if content is None:
                    content = (ch.get("delta") or {}).get("content")
                if content:
                    res["n_content"] += 1
                if ch.get("finish_reason"):
                    res["finish"] = ch["finish_reason"]
            if j.get("usage"):
                res["usage"] = j["usage"]
            if stop_after is not None and res["n_content"] >= stop_after:
                break
    except (OSError, http.client.HTTPException, ValueError) as e:
        res["exc"] = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    return res


def usage_rows(rows):
    return [r for r in rows if r["kind"] == "usage"]


def by_request_id(rows):
    out = collections.defaultdict(list)
    for r in usage_rows(rows):
        out[(r["key_id"], r["request_id"])].append(r)
    return out


def adapter_names(body):
    return [(a.get("name"), a.get("weight")) for a in body.get("adapters") or []]


def independent_chain_check(rows, ckpt_dir=None, pub=None, what=""):
    """tools/ledger_hash.py over the rows (and the signed checkpoints): must be intact."""
    cps = []
    if ckpt_dir and pub and os.path.isdir(ckpt_dir):
        pubs = [LH.pem_public_key(Path(pub).read_text())]
        for p in sorted(Path(ckpt_dir).glob("checkpoint-*.json")):
            cp = LH.read_checkpoint(str(p))
            check(LH.checkpoint_valid(cp, pubs), f"{what}: checkpoint {p.name} does not verify in Python")
            cps.append((cp[0], cp[1]))
    bad, problem = LH.verify_chain([row_tuple(r) for r in rows], cps)
    check(bad == 0, f"{what}: tools/ledger_hash.py finds seq {bad} bad: {problem}")
    seqs = [r["seq"] for r in rows]
    check(seqs == list(range(1, len(rows) + 1)), f"{what}: seq not contiguous from 1: {short(seqs, 400)}")


def row_tuple(r):
    return (r["seq"], r["time_ns"], r["kind"], r["key_id"], r["request_id"], r["body"], r["prev_hash"], r["hash"])


def checkpoint_sizes(ckpt_dir):
    return sorted(json.loads(p.read_text())["size"] for p in Path(ckpt_dir).glob("checkpoint-*.json"))


# ---- the stores -----------------------------------------------------------------------------


class Store:
    """Where one case's ledger lives, and independent access to its rows."""

    COLS = ("seq", "time_ns", "kind", "key_id", "request_id", "body", "prev_hash", "hash")

    def __init__(self, case_dir):
        self.dir = Path(case_dir)
        self.key = self.dir / KEY
        self.ckpt = self.dir / CKPT

    def verify(self, ckpt=None, key=None, json_out=True, url=None, cwd=None):
        """`openlora ledger verify`: (exit code, parsed JSON or None, the process)."""
        args = ["verify", "--ledger", url or self.url, "--checkpoints", ckpt or self.ckpt, "--key", key or self.key]
        if json_out:
            args.append("--json")
        p = cli(args, cwd or self.dir)
        j = None
        if json_out:
            try:
                j = json.loads(p.stdout)
            except ValueError:
                pass
        return p.returncode, j, p

    def expect_verify_ok(self, what, n_entries=None, min_checkpoints=0, **kw):
        rc, j, p = self.verify(**kw)
        check(rc == 0 and j is not None and j.get("ok") is True,
              f"{what}: ledger verify: expected exit 0 and ok, got exit {rc}: {short(p.stdout, 600)} {short(p.stderr, 400)}")
        check(j.get("bad_seq") is None, f"{what}: verify ok but bad_seq {j.get('bad_seq')!r}")
        if n_entries is not None:
            check(j["entries"] == n_entries, f"{what}: verify counted {j['entries']} entries, the table has {n_entries}")
        check(j["checkpoints"] >= min_checkpoints,
              f"{what}: verify checked {j['checkpoints']} checkpoints, expected >= {min_checkpoints}")
        return j


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, case_dir, path=None):
        super().__init__(case_dir)
        self.path = Path(path) if path else self.dir / DB
        self.url = str(self.path)

    def server_args(self):
        return []  # the defaults: openlora-ledger.db, .key and checkpoints in the cwd

    def _conn(self):
        return sqlite3.connect(str(self.path), timeout=30)

    def rows(self):
        db = self._conn()
        try:
            cur = db.execute(f"SELECT {', '.join(self.COLS)} FROM ledger ORDER BY seq")
            out = []
            for t in cur:
                r = dict(zip(self.COLS, t))
                r["prev_hash"], r["hash"] = bytes(r["prev_hash"]), bytes(r["hash"])
                r["b"] = json.loads(r["body"])
                out.append(r)
            return out
        finally:
            db.close()

    def copy(self, name):
        d = self.dir / name
        d.mkdir()
        for suffix in ("", "-wal"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                shutil.copyfile(src, str(d / DB) + suffix)
        c = SqliteStore(self.dir, d / DB)
        c.key, c.ckpt = self.key, self.ckpt
        return c

    def execute(self, statements):
        """[(sql with ? params, params)] in one transaction."""
        db = self._conn()
        try:
            with db:
                for sql, params in statements:
                    db.execute(sql, params)
        finally:
            db.close()


class PgStore(Store):
    kind = "postgresql"
    counter = 0

    def __init__(self, case_dir, base_url, name=None, template=None):
        super().__init__(case_dir)
        self.base_url = base_url
        if name is None:
            PgStore.counter += 1
            name = f"ol_e2e_{os.getpid()}_{PgStore.counter}"
        self.name = name
        m = re.match(r"^(postgres(?:ql)?://[^/]*)(/[^?]*)?(\?.*)?$", base_url)
        check(m, f"OL_TEST_PG_URL does not look like postgresql://HOST/DB: {base_url!r}")
        self.url = f"{m.group(1)}/{name}{m.group(3) or ''}"
        tmpl = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{tmpl}', url=base_url)

    def server_args(self):
        return ["--ledger", self.url]

    def psql(self, sql, url=None):
        p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url or self.url],
                           input=sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        check(p.returncode == 0, f"psql failed ({p.returncode}): {short(sql, 300)}\n{short(p.stderr, 600)}")
        return p.stdout

    def rows(self):
        out = self.psql("SELECT row_to_json(t)::text FROM (SELECT seq, time_ns, kind, key_id, request_id, body,"
                        " encode(prev_hash, 'hex') AS prev_hash, encode(hash, 'hex') AS hash FROM ledger"
                        " ORDER BY seq) t;")
        rows = []
        for ln in out.splitlines():
            if not ln.strip():
                continue
            r = json.loads(ln)
            r["prev_hash"], r["hash"] = bytes.fromhex(r["prev_hash"]), bytes.fromhex(r["hash"])
            r["b"] = json.loads(r["body"])
            rows.append(r)
        return rows

    def copy(self, name):
        c = PgStore(self.dir, self.base_url, name=f"{self.name}_{name}".replace("-", "_"), template=self.name)
        c.key, c.ckpt = self.key, self.ckpt
        return c

    def execute(self, statements):
        parts = ["BEGIN;"]
        for sql, params in statements:
            pieces = sql.split("?")
            check(len(pieces) == len(params) + 1, f"placeholders vs params: {sql}")
            s = pieces[0]
            for v, rest in zip(params, pieces[1:]):
                s += sql_lit(v) + rest
            parts.append(s + ";")
        parts.append("COMMIT;")
        self.psql("\n".join(parts))


# ---- the suite ------------------------------------------------------------------------------


class Suite:
    def __init__(self, store_kind, root, pg_url=None):
        self.store_kind = store_kind
        self.root = Path(root)
        self.pg_url = pg_url
        self.servers = []
        self.immutable = []  # paths with chattr +i, undone after every case

    def case_dir(self, name):
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def store(self, d):
        return SqliteStore(d) if self.store_kind == "sqlite" else PgStore(d, self.pg_url)

    def server(self, name, d, st, args=(), adapters_dirs=None, **kw):
        srv = S.Server(name, args=list(st.server_args()) + list(args), cwd=d, adapters_dirs=adapters_dirs, **kw)
        self.servers.append(srv)
        return srv

    def cleanup(self):
        for p in self.immutable:
            subprocess.run(["chattr", "-i", str(p)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.immutable = []
        for s in self.servers:
            s.kill()
        self.servers = []

    # ---------------------------------------------------------------------------------------
    # 1. crash safety: SIGKILL under concurrent streaming load

    def crash(self):
        d = self.case_dir("crash")
        st = self.store(d)
        srv = self.server("crash", d, st, args=["--ledger-checkpoint-interval", "1"])
        srv.start()
        base = srv.served_name()
        ads = list(S.DEMO_ADAPTERS)
        lock = threading.Lock()
        target = {"host": srv.host, "port": srv.port}
        issued, completed, problems = {}, {}, []
        stats = collections.Counter()
        stop_new = threading.Event()
        hard_deadline = time.monotonic() + 55
        # every third kill hits the worst moment: the instant a client reads [DONE] (a server that
        # sent it before its record was durable would lose that record here)
        arm_lock, arm, fired, killed_at_done = threading.Lock(), {"pid": None}, threading.Event(), []

        def spec(rng):
            body = {"max_tokens": rng.randint(4, 24), "temperature": 0, "ignore_eos": True, "stream": True,
                    "stream_options": {"include_usage": True}}
            x = rng.random()
            if x < 0.2:
                body["model"], want = base, []
            elif x < 0.65:
                body["model"] = rng.choice(ads)
                want = [(body["model"], 1.0)]
            else:
                picks = rng.sample(ads, rng.randint(2, 3))
                want = [(n, rng.choice([0.5, 1.0, 2.0, -1.0])) for n in picks]
                body["model"] = base
                body["adapters"] = [{"name": n, "weight": w} for n, w in want]
            chat = rng.random() < 0.5
            if chat:
                body["messages"] = [{"role": "user", "content": rng.choice(PROMPTS)}]
            else:
                body["prompt"] = rng.choice(PROMPTS)
            return ("/v1/chat/completions" if chat else "/v1/completions"), body, want

        def client(ti):
            rng = random.Random(1000 + ti)
            n = 0
            while not stop_new.is_set():
                rid = f"crash-{ti}-{n}-{rng.randrange(1 << 30):08x}"
                n += 1
                path, body, want = spec(rng)
                with lock:
                    issued[rid] = (path, body, want)
                attempts = 0
                while True:
                    attempts += 1
                    t_attempt = time.time_ns()
                    with lock:
                        host, port = target["host"], target["port"]
                    def at_done():
                        with arm_lock:
                            pid, arm["pid"] = arm["pid"], None
                        if pid:
                            os.kill(pid, signal.SIGKILL)
                            killed_at_done.append(rid)
                            fired.set()

                    r = stream_once(host, port, path, body, {"X-Request-Id": rid}, timeout=30, on_done=at_done)
                    if r["done"] and r["error"] is None:
                        if r["usage"] is None or r["finish"] is None:
                            with lock:
                                problems.append(f"{rid}: [DONE] without usage/finish: {r}")
                        with lock:
                            completed[rid] = dict(r, attempts=attempts, t_attempt=t_attempt)
                            stats["retried" if attempts > 1 else "first_try"] += 1
                        break
                    with lock:
                        stats["broken_attempts"] += 1
                    if r["status"] not in (None, 200, 503):
                        with lock:
                            problems.append(f"{rid}: HTTP {r['status']} {short(r['body'])}")
                        break
                    if r["error"] is not None:
                        with lock:
                            problems.append(f"{rid}: error event {r['error']}")
                        break
                    if time.monotonic() > hard_deadline + 20:
                        with lock:
                            problems.append(f"{rid}: never completed after {attempts} attempts (last: {r})")
                        break
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        rng = random.Random(7)
        n_kills = 0
        verify_fail = None
        t0 = time.monotonic()
        try:
            while n_kills < 24 and time.monotonic() < hard_deadline:
                time.sleep(rng.uniform(0.2, 1.5))
                if n_kills % 3 == 2:
                    fired.clear()
                    with arm_lock:  # the process is not reaped yet, so its pid cannot be reused
                        arm["pid"] = srv.proc.pid
                    fired.wait(10)
                    with arm_lock:
                        arm["pid"] = None
                srv.proc.kill()
                srv.proc.wait()
                srv.proc = None
                n_kills += 1
                srv.start()
                with lock:
                    target["host"], target["port"] = srv.host, srv.port
                rc, j, p = st.verify()
                if rc != 0 and verify_fail is None:
                    verify_fail = f"after kill {n_kills}: ledger verify exit {rc}: {short(p.stdout, 600)} {short(p.stderr, 300)}"
        finally:
            stop_new.set()
            for t in threads:
                t.join(60)
        kill_time = time.monotonic() - t0
        check(not any(t.is_alive() for t in threads), "client threads still running 60 s after the load stopped")
        # ids recorded before some of the restarts, sent again: served, not recorded again
        for rid in sorted(completed)[:6]:
            path, body, _ = issued[rid]
            r = stream_once(srv.host, srv.port, path, body, {"X-Request-Id": rid})
            check(r["done"] and r["error"] is None, f"{rid} sent again after the restarts: {r}")
        srv.stop()
        check(verify_fail is None, verify_fail)
        check(not problems, f"{len(problems)} client problems: " + "; ".join(problems[:5]))
        check(n_kills >= 20, f"only {n_kills} kills happened in {kill_time:.0f}s (expected >= 20)")
        check(len(killed_at_done) >= 3, f"only {len(killed_at_done)} kills at the moment of [DONE]")
        check(stats["retried"] > 0,
              f"no request was ever interrupted and retried ({dict(stats)}): the kills did not hit the load")
        rows = st.rows()
        st.expect_verify_ok("after the last restart", n_entries=len(rows), min_checkpoints=1)
        independent_chain_check(rows, st.ckpt, str(st.key) + ".pub", "crash")
        regs = [r for r in rows if r["kind"] == "adapter"]
        check(len(regs) == len(S.DEMO_ADAPTERS),
              f"{n_kills + 1} starts wrote {len(regs)} registry records, expected {len(S.DEMO_ADAPTERS)} (deduped): "
              f"{[r['request_id'] for r in regs]}")
        recs = by_request_id(rows)
        dupes = {k: len(v) for k, v in recs.items() if len(v) > 1}
        check(not dupes, f"request ids recorded more than once: {short(dupes, 500)}")
        unknown = [k for k in recs if k[1] not in issued]
        check(not unknown, f"usage records for request ids no client sent: {unknown[:5]}")
        missing = [rid for rid in completed if ("", rid) not in recs]
        check(not missing, f"{len(missing)} of {len(completed)} completed streams have no usage record: {missing[:5]}")
        never = [rid for rid in issued if rid not in completed]
        check(not never, f"issued requests that never completed: {never[:5]}")
        earlier = 0  # completed streams whose record came from an earlier, killed attempt
        for rid, r in completed.items():
            rec = recs[("", rid)][0]
            earlier += rec["time_ns"] < r["t_attempt"]
            b = rec["b"]
            u = r["usage"]
            path, body, want = issued[rid]
            check(b.get("request_id") == rid, f"{rid}: body request_id {b.get('request_id')!r}")
            check((b.get("prompt_tokens"), b.get("completion_tokens")) == (u["prompt_tokens"], u["completion_tokens"]),
                  f"{rid}: recorded prompt/completion tokens {(b.get('prompt_tokens'), b.get('completion_tokens'))} "
                  f"!= the client's usage chunk {(u['prompt_tokens'], u['completion_tokens'])} (attempts {r['attempts']})")
            check(u["completion_tokens"] == body["max_tokens"],
                  f"{rid}: usage completion_tokens {u['completion_tokens']} != max_tokens {body['max_tokens']} (ignore_eos)")
            check(b.get("finish_reason") == r["finish"], f"{rid}: recorded finish {b.get('finish_reason')!r} != streamed {r['finish']!r}")
            got = [(n, w) for n, w in adapter_names(b)]
            check([n for n, _ in got] == [n for n, _ in want] and all(close(w1, w2) for (_, w1), (_, w2) in zip(got, want)),
                  f"{rid}: recorded adapters {got} != requested {want}")
            ep = "chat.completions" if path.endswith("chat/completions") else "completions"
            check(b.get("endpoint") == ep, f"{rid}: recorded endpoint {b.get('endpoint')!r} != {ep!r}")
        print(f"  crash: {n_kills} kills ({len(killed_at_done)} the instant a client read [DONE]) in {kill_time:.1f}s, "
              f"{len(issued)} requests ({stats['first_try']} first try, "
              f"{stats['retried']} retried, {stats['broken_attempts']} broken attempts; {earlier} recorded by an "
              f"earlier attempt whose answer the kill cut off), {len(rows)} entries", flush=True)

    # ---------------------------------------------------------------------------------------
    # 2. tamper evidence

    def tamper(self):
        d = self.case_dir("tamper")
        st = self.store(d)
        srv = self.server("tamper", d, st)
        srv.start()
        if st.kind == "sqlite":
            for f in (DB, KEY, KEY + ".pub", CKPT):
                check((d / f).exists(), f"the default ledger file {f} is not in the server's cwd: {sorted(os.listdir(d))}")
            mode = (d / KEY).stat().st_mode & 0o777
            check(mode == 0o600, f"{KEY} has mode {oct(mode)}, expected 0o600")
        c = client_for(srv)
        models = [srv.served_name(), "pirate", "caps", "french", "signature", "pirate", "caps", "french"]
        for i, m in enumerate(models):
            if i % 2:
                c.chat.completions.create(model=m, messages=[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                                          max_tokens=4 + i, temperature=0)
            else:
                c.completions.create(model=m, prompt=PROMPTS[i % len(PROMPTS)], max_tokens=4 + i, temperature=0)
        srv.stop()  # SIGTERM: the final checkpoint covers every entry
        rows = st.rows()
        n = len(rows)
        check(n == len(models) + len(S.DEMO_ADAPTERS), f"{n} entries, expected {len(models)} usage + {len(S.DEMO_ADAPTERS)} registry")
        sizes = checkpoint_sizes(st.ckpt)
        check(n in sizes, f"no checkpoint covers all {n} entries after SIGTERM; checkpoint sizes {sizes}")
        st.expect_verify_ok("untouched", n_entries=n, min_checkpoints=1)
        independent_chain_check(rows, st.ckpt, str(st.key) + ".pub", "untouched")
        if st.kind == "sqlite":  # no options at all: the defaults in the cwd
            p = cli(["verify"], d)
            check(p.returncode == 0 and p.stdout.startswith("ok:"),
                  f"`ledger verify` with defaults: exit {p.returncode} {short(p.stdout)} {short(p.stderr)}")

        k = len(S.DEMO_ADAPTERS) + 3  # a usage record in the middle
        check(2 <= k and k + 1 < n - 2, f"ledger too short for the tamper cases: n={n}, k={k}")
        by_seq = {r["seq"]: r for r in rows}
        full = ("time_ns", "kind", "key_id", "request_id", "body", "prev_hash", "hash")

        def edit_body(seq):
            b = dict(by_seq[seq]["b"])
            b["completion_tokens"] = b["completion_tokens"] + 1000
            return [("UPDATE ledger SET body = ? WHERE seq = ?",
                     (json.dumps(b, sort_keys=True, separators=(",", ":")), seq))]

        def swap(a, b):
            ra, rb = by_seq[a], by_seq[b]
            cols = ", ".join(("seq",) + full)
            q = ", ".join("?" * (len(full) + 1))
            return [("DELETE FROM ledger WHERE seq IN (?, ?)", (a, b)),
                    (f"INSERT INTO ledger ({cols}) VALUES ({q})", (a,) + tuple(rb[c] for c in full)),
                    (f"INSERT INTO ledger ({cols}) VALUES ({q})", (b,) + tuple(ra[c] for c in full))]

        def rehash_from(seq):
            """Edit seq, then recompute every hash after it (an attacker with the database but not
            the key): only a signed checkpoint can tell."""
            stm = edit_body(seq)
            new_body = stm[0][1][0]
            prev = by_seq[seq - 1]["hash"]
            for s in range(seq, n + 1):
                r = by_seq[s]
                body = new_body if s == seq else r["body"]
                h = LH.entry_hash(s, r["time_ns"], r["kind"], r["key_id"], r["request_id"], body, prev)
                stm.append(("UPDATE ledger SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, s)))
                prev = h
            return stm

        first_cp_at_or_after = min(s for s in sizes if s >= k)
        cases = [
            ("edit-body", edit_body(k), k),
            ("edit-key-id", [("UPDATE ledger SET key_id = ? WHERE seq = ?", ("key-forged0000", k + 1))], k + 1),
            ("edit-time", [("UPDATE ledger SET time_ns = time_ns + 1 WHERE seq = ?", (k - 1,))], k - 1),
            ("null-request-id", [("UPDATE ledger SET request_id = NULL WHERE seq = ?", (k,))], k),
            ("delete-row", [("DELETE FROM ledger WHERE seq = ?", (k,))], k),
            ("swap-rows", swap(k, k + 1), k),
            ("truncate-tail", [("DELETE FROM ledger WHERE seq > ?", (n - 2,))], n - 1),
            ("rehash-chain", rehash_from(k), first_cp_at_or_after),
        ]
        results = []
        for name, stm, want in cases:
            cp = st.copy(name)
            cp.execute(stm)
            rc, j, p = cp.verify()
            got = j.get("bad_seq") if j else None
            check(rc == 1 and j is not None and j.get("ok") is False,
                  f"{name}: verify --json should exit 1 with ok=false, got exit {rc}: {short(p.stdout, 500)} {short(p.stderr, 300)}")
            check(got == want, f"{name}: verify names seq {got}, expected seq {want} ({j.get('problem')})")
            rc2, _, p2 = cp.verify(json_out=False)
            check(rc2 == 1 and f"first bad seq: {want}\n" in p2.stdout,
                  f"{name}: text verify: exit {rc2} (expected 1), stdout {short(p2.stdout, 400)!r} lacks 'first bad seq: {want}'")
            # the independent implementation agrees
            pubs = [LH.pem_public_key(Path(str(st.key) + ".pub").read_text())]
            cps = [(c[0], c[1]) for c in (LH.read_checkpoint(str(f)) for f in sorted(st.ckpt.glob("checkpoint-*.json")))
                   if LH.checkpoint_valid(c, pubs)]
            py_bad, _ = LH.verify_chain([row_tuple(r) for r in cp.rows()], cps)
            check(py_bad == want, f"{name}: tools/ledger_hash.py names seq {py_bad}, expected {want}")
            results.append(f"{name}->{got}")
        cp = st.copy("untouched-copy")
        cp.expect_verify_ok("untouched copy", n_entries=n, min_checkpoints=1)
        # a forged checkpoint (its head changed, the signature kept) is refused
        forged = d / "forged-checkpoints"
        shutil.copytree(st.ckpt, forged)
        last = forged / f"checkpoint-{n:012d}.json"
        cpj = json.loads(last.read_text())
        cpj["head"] = hashlib.sha256(b"forged").hexdigest()
        last.write_text(json.dumps(cpj))
        rc, j, p = st.verify(ckpt=forged)
        check(rc == 1 and j and j.get("bad_seq") is not None,
              f"a checkpoint with a forged head: expected exit 1, got {rc}: {short(p.stdout, 400)}")
        # verifiers need only the public half
        p = cli(["verify", "--ledger", st.url, "--checkpoints", st.ckpt, "--key", str(st.key) + ".pub", "--json"], d)
        check(p.returncode == 0, f"verify with the .pub key: exit {p.returncode} {short(p.stdout)} {short(p.stderr)}")
        # --ledger-key FILE creates FILE and FILE.pub; checkpoints signed by another key are not trusted
        other = d / "other.key"
        srv2 = self.server("tamper-otherkey", d, st, args=["--ledger-key", other, "--ledger-checkpoints", d / "ck2"])
        srv2.start()
        srv2.stop()
        check(other.exists() and Path(str(other) + ".pub").exists(), "--ledger-key FILE: the key or FILE.pub was not created")
        rc, j, p = st.verify(key=Path(str(other) + ".pub"))
        check(rc == 1, f"checkpoints checked against a different key must not verify: exit {rc} {short(p.stdout, 400)}")
        print(f"  tamper: n={n} k={k} checkpoints {sizes}: " + ", ".join(results), flush=True)

    # ---------------------------------------------------------------------------------------
    # 3. the report, by hand

    def report(self):
        d = self.case_dir("report")
        st = self.store(d)
        ad_dir = d / "adapters"
        meta_patch = {
            # "name" as openlora.json spells it, "id" as the admin API does
            "pirate": {"owner": "pirate-guild", "contributors": [{"name": "alice", "share": 0.6}, {"name": "bob", "share": 0.4}]},
            "caps": {"contributors": [{"id": "bob", "share": 0.5}, {"id": "carol", "share": 0.5}]},
        }
        meta, shas = {}, {}
        for name in ("pirate", "caps"):
            src = S.ADAPTERS_DIR / name
            dst = ad_dir / name
            dst.mkdir(parents=True)
            for f in ("adapter_config.json", "adapter_model.safetensors"):
                shutil.copyfile(src / f, dst / f)
            m = json.loads((src / "openlora.json").read_text())
            m.update(meta_patch[name])
            (dst / "openlora.json").write_text(json.dumps(m, indent=2))
            meta[name] = {"owner": m.get("owner"),
                          "contributors": [(c.get("id", c.get("name")), c["share"]) for c in m["contributors"]]}
            h = hashlib.sha256()
            for f in ("adapter_config.json", "adapter_model.safetensors"):
                h.update(f.encode() + b"\0")
                h.update((dst / f).read_bytes())
            shas[name] = h.hexdigest()
        srv = self.server("report", d, st, adapters_dirs=[ad_dir])
        srv.start()
        base = srv.served_name()
        c = client_for(srv)

        def run(kind, model, adapters=None, stream=False):
            extra = {"adapters": [{"name": n, "weight": w} for n, w in adapters]} if adapters else None
            if stream:
                chunks = list(c.completions.create(model=model, prompt="Ahoy, tell me a story", max_tokens=9,
                                                   temperature=0, stream=True, stream_options={"include_usage": True},
                                                   extra_body=extra))
                u = chunks[-1].usage
                rid = chunks[0].id
            elif kind == "chat":
                r = c.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello to the crew."}],
                                              max_tokens=7, temperature=0, extra_body=extra)
                u, rid = r.usage, r.id
            else:
                r = c.completions.create(model=model, prompt="The treasure is hidden", max_tokens=5, temperature=0,
                                         extra_body=extra)
                u, rid = r.usage, r.id
            check(u is not None and u.prompt_tokens > 0 and u.completion_tokens > 0, f"{model}: no usage: {u}")
            ads = adapters if adapters else ([(model, 1.0)] if model != base else [])
            return {"adapters": ads, "prompt": u.prompt_tokens, "completion": u.completion_tokens, "id": rid}

        batch1 = [run("chat", "pirate"), run("comp", "pirate", stream=True), run("comp", base), run("chat", "caps")]
        # a whole second between the batches: --since/--until take unix seconds
        boundary = int(time.time()) + 1
        while time.time() < boundary + 0.05:
            time.sleep(0.05)
        batch2 = [run("comp", "pirate"), run("comp", "caps"), run("chat", base, adapters=[("pirate", 1.0), ("caps", 3.0)]),
                  run("comp", base, adapters=[("pirate", -1.0), ("caps", 1.0)])]
        everything = batch1 + batch2
        rows = st.rows()
        recs = by_request_id(rows)
        for q in everything:  # without X-Request-Id, the request id is the response's id
            check(("", q["id"]) in recs, f"no usage record with request_id == response id {q['id']!r}")
        price = 2.0

        def expected(reqs):
            ads = {n: {"requests": 0, "prompt": 0.0, "completion": 0.0, "tokens": 0.0} for n in meta}
            contrib = collections.defaultdict(float)
            base_tok = base_req = 0
            for q in reqs:
                tot = q["prompt"] + q["completion"]
                if not q["adapters"]:
                    base_tok += tot
                    base_req += 1
                    continue
                wsum = sum(abs(w) for _, w in q["adapters"])
                for n, w in q["adapters"]:
                    f = abs(w) / wsum
                    a = ads[n]
                    a["requests"] += 1
                    a["prompt"] += f * q["prompt"]
                    a["completion"] += f * q["completion"]
                    a["tokens"] += f * tot
                    for cid, share in meta[n]["contributors"]:
                        contrib[cid] += f * tot * share
            owners = collections.defaultdict(float)
            for n, a in ads.items():
                if a["requests"]:
                    owners[meta[n]["owner"]] += a["tokens"]
            return {"requests": len(reqs), "prompt": sum(q["prompt"] for q in reqs),
                    "completion": sum(q["completion"] for q in reqs), "adapters": ads, "contrib": dict(contrib),
                    "owners": dict(owners), "base_tokens": base_tok, "base_requests": base_req}

        def compare(rep, exp, what, priced=True):
            check(isinstance(rep, dict), f"{what}: not a JSON object: {short(rep)}")
            for k, want in (("requests", exp["requests"]), ("prompt_tokens", exp["prompt"]),
                            ("completion_tokens", exp["completion"]), ("total_tokens", exp["prompt"] + exp["completion"])):
                check(rep.get(k) == want, f"{what}: {k} = {rep.get(k)!r}, by hand {want}")
            rows_ = rep.get("adapters") or []
            for n, a in exp["adapters"].items():
                got = [r for r in rows_ if r.get("name") == n]
                if a["requests"] == 0:
                    check(not got, f"{what}: adapter {n} listed without requests: {got}")
                    continue
                check(len(got) == 1, f"{what}: adapter {n}: {len(got)} rows in {short(rows_, 600)}")
                g = got[0]
                check(g.get("requests") == a["requests"], f"{what}: {n}.requests {g.get('requests')} != {a['requests']}")
                for key, want in (("prompt_tokens", a["prompt"]), ("completion_tokens", a["completion"]), ("tokens", a["tokens"])):
                    check(close(g.get(key, -1), want), f"{what}: {n}.{key} {g.get(key)} != by hand {want}")
                check(g.get("sha256") == shas[n], f"{what}: {n}.sha256 {g.get('sha256')} != files' {shas[n]}")
                check(g.get("owner") == meta[n]["owner"], f"{what}: {n}.owner {g.get('owner')!r} != {meta[n]['owner']!r}")
                if priced:
                    check(close(g.get("revenue", -1), a["tokens"] / 1000 * price),
                          f"{what}: {n}.revenue {g.get('revenue')} != {a['tokens'] / 1000 * price}")
            others = [r for r in rows_ if r.get("name") not in meta]
            check(close(sum(r.get("tokens", 0) for r in others), exp["base_tokens"]) and
                  sum(r.get("requests", 0) for r in others) == exp["base_requests"],
                  f"{what}: base-model rows {others} != {exp['base_requests']} requests / {exp['base_tokens']} tokens")
            total = exp["prompt"] + exp["completion"]
            check(close(sum(r.get("tokens", 0) for r in rows_), total), f"{what}: adapter tokens sum "
                  f"{sum(r.get('tokens', 0) for r in rows_)} != total {total}")
            cs = {r.get("id"): r for r in rep.get("contributors") or []}
            for cid, want in exp["contrib"].items():
                check(cid in cs, f"{what}: contributor {cid!r} missing from {short(list(cs), 300)}")
                check(close(cs[cid].get("tokens", -1), want), f"{what}: contributor {cid}.tokens {cs[cid].get('tokens')} != by hand {want}")
                if priced:
                    check(close(cs[cid].get("payout", -1), want / 1000 * price),
                          f"{what}: contributor {cid}.payout {cs[cid].get('payout')} != {want / 1000 * price}")
            check(close(sum(r.get("tokens", 0) for r in cs.values()), total),
                  f"{what}: contributor tokens sum {sum(r.get('tokens', 0) for r in cs.values())} != total {total}")
            ows = {r.get("owner"): r for r in rep.get("owners") or []}
            for o, want in exp["owners"].items():
                check(o in ows and close(ows[o].get("tokens", -1), want), f"{what}: owner {o}: {ows.get(o)} != tokens {want}")
                if priced:
                    check(close(ows[o].get("revenue", -1), want / 1000 * price),
                          f"{what}: owner {o}.revenue {ows[o].get('revenue')} != {want / 1000 * price}")
            if priced:
                check(close(rep.get("revenue", -1), total / 1000 * price), f"{what}: revenue {rep.get('revenue')} != {total / 1000 * price}")

        def cli_report(*extra):
            p = cli(["report", "--ledger", st.url, "--format", "json", *extra], d)
            check(p.returncode == 0, f"ledger report {extra}: exit {p.returncode} {short(p.stderr, 400)}")
            try:
                return json.loads(p.stdout)
            except ValueError:
                raise S.CheckFailed(f"ledger report {extra}: not JSON: {short(p.stdout)}")

        def http_report(query):
            r = srv.get("/v1/usage" + query)
            check(r.status == 200 and isinstance(r.json, dict), f"GET /v1/usage{query}: {r!r}")
            return r.json

        exp_all, exp1, exp2 = expected(everything), expected(batch1), expected(batch2)
        compare(cli_report("--price-per-1k-tokens", "2"), exp_all, "ledger report")
        compare(http_report("?price_per_1k_tokens=2"), exp_all, "GET /v1/usage")
        compare(cli_report(), exp_all, "ledger report without a price", priced=False)
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(boundary))
        compare(cli_report("--since", str(boundary), "--price-per-1k-tokens", "2"), exp2, f"report --since {boundary}")
        compare(cli_report("--until", iso, "--price-per-1k-tokens", "2"), exp1, f"report --until {iso}")
        compare(http_report(f"?since={boundary}&price_per_1k_tokens=2"), exp2, "GET /v1/usage?since")
        compare(http_report(f"?until={boundary}&price_per_1k_tokens=2"), exp1, "GET /v1/usage?until")
        future, past = str(int(time.time()) + 3600), "2001-01-01"
        for what, rep in (("report --since future", cli_report("--since", future)),
                          ("report --until past", cli_report("--until", past)),
                          ("GET /v1/usage?since=future", http_report(f"?since={future}")),
                          ("GET /v1/usage?until=past", http_report(f"?until={past}"))):
            check(rep.get("requests") == 0 and rep.get("total_tokens") == 0 and not rep.get("adapters")
                  and not rep.get("contributors"), f"{what}: expected an empty report, got {short(rep, 500)}")
        r = srv.get("/v1/usage?since=yesterday-ish")
        check(r.status == 400, f"GET /v1/usage?since=<garbage>: expected 400, got {r!r}")
        for fmt in ("table", "csv"):
            p = cli(["report", "--ledger", st.url, "--format", fmt, "--price-per-1k-tokens", "2"], d)
            check(p.returncode == 0 and "pirate" in p.stdout and "alice" in p.stdout,
                  f"report --format {fmt}: exit {p.returncode}, output lacks pirate/alice: {short(p.stdout, 400)}")
        # export: every entry, one line each
        p = cli(["export", "--ledger", st.url, "--format", "jsonl"], d)
        check(p.returncode == 0, f"export jsonl: exit {p.returncode} {short(p.stderr)}")
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        check(len(lines) == len(rows), f"export jsonl: {len(lines)} lines, the ledger has {len(rows)} entries")
        check([x.get("seq") for x in lines] == [r["seq"] for r in rows], "export jsonl: seq column differs from the table")
        check([x.get("request_id") for x in lines] == [r["request_id"] for r in rows], "export jsonl: request ids differ")
        p = cli(["export", "--ledger", st.url, "--format", "csv"], d)
        check(p.returncode == 0, f"export csv: exit {p.returncode} {short(p.stderr)}")
        recs_csv = list(csv.reader(io.StringIO(p.stdout)))
        data = [x for x in recs_csv if x and x[0].isdigit()]
        check(len(data) == len(rows), f"export csv: {len(data)} records, the ledger has {len(rows)} entries")
        for x, r in zip(data, rows):
            check(json.loads(x[-1]) == r["b"], f"export csv: seq {x[0]}: body differs from the table")
        srv.stop()
        print(f"  report: {len(everything)} requests, {exp_all['prompt'] + exp_all['completion']} tokens; "
              f"contributors {', '.join(f'{k}={v:g}' for k, v in sorted(exp_all['contrib'].items()))}", flush=True)

    # ---------------------------------------------------------------------------------------
    # 4. write failures (SQLite)

    def _failure_drive(self, srv, st, prefix, unblock, what, allow_transient, stream):
        """Send requests until one is refused for the ledger and the store stays unwritable; then
        the failure's checks, unblock(), and recovery. A failure the store gets over by itself (an
        SQLite connection reopened after EFBIG checkpoints its WAL into the database, making room)
        is allowed when allow_transient: its withheld record must then be committed, once.
        stream: the requests stream, and the withheld one must end in an error event, not [DONE]."""
        ok_ids, fail_id, transient = [], None, []
        for i in range(300):
            rid = f"{prefix}-{i}"
            model = "pirate" if i % 2 else srv.served_name()
            if stream:
                r = stream_once(srv.host, srv.port, "/v1/completions",
                                {"model": model, "prompt": PROMPTS[i % len(PROMPTS)], "max_tokens": 8,
                                 "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}},
                                {"X-Request-Id": rid})
                check(r["status"] == 200 and r["exc"] is None, f"{what}: stream {rid}: {r}")
                if r["done"]:
                    check(r["error"] is None and r["finish"] == "length" and r["usage"], f"{what}: stream {rid}: {r}")
                    ok_ids.append(rid)
                    continue
                e = r["error"] or {}
                check(e.get("code") == "ledger_unavailable" and e.get("type") and e.get("message"),
                      f"{what}: stream {rid} ended without [DONE] and without a ledger_unavailable error event: {r}")
                check(r["finish"] is None and r["usage"] is None,
                      f"{what}: the withheld stream {rid} still carried its finish_reason / usage: {r}")
            else:
                r = srv.completion(prompt=PROMPTS[i % len(PROMPTS)], max_tokens=8, ignore_eos=True, model=model,
                                   headers={"X-Request-Id": rid})
                if r.status == 200:
                    ok_ids.append(rid)
                    continue
                S.expect_error(r, 503, "service_unavailable_error", code="ledger_unavailable", what=f"{what}: request {rid}")
            t_end = time.monotonic() + 2.5  # the ledger retries every second
            while time.monotonic() < t_end and srv.get("/ready").status == 503:
                time.sleep(0.1)
            if srv.get("/ready").status == 503:
                fail_id = rid
                break
            check(allow_transient, f"{what}: the store recovered by itself after {rid} failed")
            got = by_request_id(st.rows()).get(("", rid), [])
            check(len(got) == 1, f"{what}: {rid} failed, the ledger recovered by itself, and it has {len(got)} records (expected 1)")
            transient.append(rid)
            check(len(transient) <= 20, f"{what}: 20 failures and the store recovered from each")
        check(fail_id is not None, f"{what}: 300 requests and the ledger never failed for good")
        ok_ids += transient
        print(f"  {what}: {len(ok_ids) - len(transient)} answered, {len(transient)} failures the store got over by itself,"
              f" then {fail_id} withheld", flush=True)
        rows_before = st.rows()
        recs = by_request_id(rows_before)
        for rid in ok_ids:
            check(len(recs.get(("", rid), [])) == 1, f"{what}: answered request {rid} has {len(recs.get(('', rid), []))} records")
        check(("", fail_id) not in recs, f"{what}: {fail_id} got 503 but its record is already in the table")
        r = srv.get("/ready")
        check(r.status == 503, f"{what}: /ready while the ledger cannot write: expected 503, got {r!r}")
        rejected = []
        for j in range(2):
            rid = f"{prefix}-rejected-{j}"
            r = srv.completion(max_tokens=4, headers={"X-Request-Id": rid})
            S.expect_error(r, 503, "service_unavailable_error", code="ledger_unavailable", what=f"{what}: new request")
            rejected.append(rid)
        sr = stream_once(srv.host, srv.port, "/v1/completions",
                         {"model": srv.served_name(), "prompt": "hi", "max_tokens": 4, "stream": True},
                         {"X-Request-Id": f"{prefix}-rejected-stream"})
        check(sr["status"] == 503 and b"ledger_unavailable" in sr["body"], f"{what}: new stream: expected 503 ledger_unavailable, got {sr}")
        rejected.append(f"{prefix}-rejected-stream")
        time.sleep(1.5)  # more retries, still failing
        check(srv.get("/ready").status == 503, f"{what}: /ready recovered while the store still cannot write")
        m = S.metric_values(srv.metrics(), r"^openlora_ledger_(healthy|queued|failures_total)$")
        check(m.get("openlora_ledger_healthy") == 0 and m.get("openlora_ledger_queued", 0) >= 1
              and m.get("openlora_ledger_failures_total", 0) >= 2, f"{what}: ledger metrics during the failure: {m}")
        unblock()
        t_end = time.monotonic() + 20
        while srv.get("/ready").status != 200:
            check(time.monotonic() < t_end, f"{what}: /ready still not 200 20 s after the store works again\n{srv.stderr_tail()}")
            time.sleep(0.2)
        after_id = f"{prefix}-after"
        r = srv.completion(max_tokens=4, headers={"X-Request-Id": after_id})
        check(r.status == 200, f"{what}: a request after recovery: {r!r}")
        r = srv.completion(prompt="retry", max_tokens=6, headers={"X-Request-Id": fail_id})
        check(r.status == 200, f"{what}: the retry of {fail_id} after recovery: {r!r}")
        rows = st.rows()
        recs = by_request_id(rows)
        for rid in ok_ids + [after_id]:
            check(len(recs.get(("", rid), [])) == 1, f"{what}: {rid}: {len(recs.get(('', rid), []))} records, expected 1")
        got = recs.get(("", fail_id), [])
        check(len(got) == 1, f"{what}: the withheld request {fail_id}: {len(got)} records after recovery and a retry, expected 1")
        check(got[0]["b"].get("completion_tokens") == 8,
              f"{what}: {fail_id}'s record has completion_tokens {got[0]['b'].get('completion_tokens')}, the withheld answer had 8")
        for rid in rejected:
            check(("", rid) not in recs, f"{what}: {rid} was refused before generating, yet it has a record")
        old = [(r["seq"], bytes(r["hash"])) for r in rows_before]
        check([(r["seq"], bytes(r["hash"])) for r in rows[:len(old)]] == old,
              f"{what}: entries committed before the failure changed")
        return rows

    def _fsize_server_files(self, d):
        return {f: (d / f).stat().st_size for f in (DB, DB + "-wal", DB + "-shm") if (d / f).exists()}

    def disk_full(self):
        d = self.case_dir("diskfull")
        st = self.store(d)
        srv = self.server("diskfull-setup", d, st)
        srv.start()
        # enough records that the database outgrows the 32 KiB -shm file, so the limit binds on
        # the database and the WAL, not on the shared-memory index
        for i in range(40):
            check(srv.completion(max_tokens=1, headers={"X-Request-Id": f"setup-{i}"}).status == 200, "setup request")
        srv.stop()
        stopped = self._fsize_server_files(d)  # the WAL is checkpointed into the database at close
        limit = max(list(stopped.values()) + [32768]) + 4096
        soft_hard = (limit, resource.RLIM_INFINITY)
        srv = self.server("diskfull", d, st, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, soft_hard))
        srv.start()
        pid = srv.proc.pid
        with open(f"/proc/{pid}/limits") as f:
            lim = [ln for ln in f if ln.startswith("Max file size")]
        check(lim and str(limit) in lim[0], f"RLIMIT_FSIZE not applied to the server: {lim} (wanted {limit})")

        def unblock():
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        rows = self._failure_drive(srv, st, "fsize", unblock, "disk full (RLIMIT_FSIZE)", allow_transient=True,
                                   stream=False)
        check(srv.alive(), "the server died of the file-size limit (SIGXFSZ?)")
        srv.stop()
        st.expect_verify_ok("after disk full", n_entries=len(st.rows()), min_checkpoints=1)
        independent_chain_check(st.rows(), st.ckpt, str(st.key) + ".pub", "disk full")
        print(f"  disk_full: limit {limit} bytes (files after the first run {stopped}), {len(rows)} entries", flush=True)

    def read_only(self):
        d = self.case_dir("readonly")
        st = self.store(d)
        srv = self.server("readonly", d, st)
        srv.start()
        for i in range(2):
            check(srv.completion(max_tokens=4, headers={"X-Request-Id": f"ro-setup-{i}"}).status == 200, "setup request")
        files = [d / DB, d / (DB + "-wal")]
        for f in files:
            if not f.exists():
                f.touch()
        p = subprocess.run(["chattr", "+i", *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            subprocess.run(["chattr", "-i", *map(str, files)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"SKIP read-only: chattr unsupported ({p.stdout.strip()})", flush=True)
            srv.stop()
            return
        self.immutable += files
        try:
            def unblock():
                q = subprocess.run(["chattr", "-i", *map(str, files)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                check(q.returncode == 0, f"chattr -i: {q.stdout}")

            rows = self._failure_drive(srv, st, "ro", unblock, "read-only (chattr +i)", allow_transient=False,
                                       stream=True)
        finally:
            subprocess.run(["chattr", "-i", *map(str, files)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        srv.stop()
        st.expect_verify_ok("after read-only", n_entries=len(st.rows()), min_checkpoints=1)
        independent_chain_check(st.rows(), st.ckpt, str(st.key) + ".pub", "read-only")
        print(f"  read_only: {len(rows)} entries", flush=True)

    # ---------------------------------------------------------------------------------------
    # 5. dedup per API key, and a client that goes away

    def dedup(self):
        d = self.case_dir("dedup")
        st = self.store(d)
        keys = {"admin": "sk-ledger-admin-0123", "user": "sk-ledger-user-4567"}
        kf = d / "keys.txt"
        kf.write_text(f"# two keys\n{keys['admin']} admin\n{keys['user']}\n")
        srv = self.server("dedup", d, st, args=["--api-key-file", kf])
        srv.start()
        kid = {k: "key-" + hashlib.sha256(v.encode()).hexdigest()[:12] for k, v in keys.items()}
        ca, cu = client_for(srv, keys["admin"]), client_for(srv, keys["user"])
        rid = "dedup-same-id-1"
        answers = []
        for _ in range(2):
            r = ca.completions.create(model="pirate", prompt="Ahoy", max_tokens=6, temperature=0,
                                      extra_headers={"X-Request-Id": rid})
            answers.append(r)
        r3 = cu.chat.completions.create(model="caps", messages=[{"role": "user", "content": "hi"}], max_tokens=5,
                                        temperature=0, user="carol-the-user", extra_headers={"X-Request-Id": rid})
        rows = st.rows()
        recs = by_request_id(rows)
        got_a = recs.get((kid["admin"], rid), [])
        got_u = recs.get((kid["user"], rid), [])
        check(len(got_a) == 1, f"same X-Request-Id twice with one key: {len(got_a)} records, expected 1 "
              f"(keys seen: {sorted(k for k in recs if k[1] == rid)})")
        check(len(got_u) == 1, f"the same id with another key: {len(got_u)} records, expected 1")
        check(got_a[0]["b"]["completion_tokens"] == answers[0].usage.completion_tokens,
              f"the recorded completion_tokens {got_a[0]['b']['completion_tokens']} != the first answer's "
              f"{answers[0].usage.completion_tokens}")
        bu = got_u[0]["b"]
        check(bu.get("endpoint") == "chat.completions" and bu.get("user") == "carol-the-user"
              and bu.get("key_id") == kid["user"] and bu.get("prompt_tokens") == r3.usage.prompt_tokens,
              f"the user key's record: {short(bu, 500)} (usage {r3.usage})")
        m = S.metric_values(srv.metrics(), r"^openlora_ledger_duplicates_total$")
        check(m.get("openlora_ledger_duplicates_total", 0) >= 1, f"ledger_duplicates_total: {m}")
        # n = 2: one record for the HTTP request, tokens of both choices
        r = ca.completions.create(model="french", prompt="Bonjour", max_tokens=5, n=2, temperature=0.8, seed=3,
                                  extra_headers={"X-Request-Id": "dedup-n2"})
        got = by_request_id(st.rows()).get((kid["admin"], "dedup-n2"), [])
        check(len(got) == 1 and got[0]["b"]["completion_tokens"] == r.usage.completion_tokens
              and got[0]["b"].get("n") == 2, f"n=2: records {[g['b'] for g in got]} vs usage {r.usage}")
        # bad ids are refused
        for bad in ("has space", "x" * 129):
            q = srv.completion(max_tokens=2, headers={"X-Request-Id": bad, "Authorization": f"Bearer {keys['admin']}"})
            check(q.status == 400, f"X-Request-Id {bad[:20]!r}: expected 400, got {q!r}")
        longest = "y" * 128
        q = srv.completion(max_tokens=2, headers={"X-Request-Id": longest, "Authorization": f"Bearer {keys['user']}"})
        check(q.status == 200, f"a 128-byte X-Request-Id: expected 200, got {q!r}")
        check(len(by_request_id(st.rows()).get((kid["user"], longest), [])) == 1, "the 128-byte X-Request-Id was not recorded")
        # /v1/usage is admin only
        q = srv.get("/v1/usage", headers={"Authorization": f"Bearer {keys['user']}"})
        check(q.status == 403, f"GET /v1/usage with a non-admin key: expected 403, got {q!r}")
        q = srv.get("/v1/usage", headers={"Authorization": f"Bearer {keys['admin']}"})
        check(q.status == 200 and q.json.get("requests") == 4,
              f"GET /v1/usage (admin): expected 4 requests (two deduped), got {q!r}")
        # a client that disconnects mid-stream: the request is aborted and still recorded
        aid = "dedup-abort-1"
        sr = stream_once(srv.host, srv.port, "/v1/completions",
                         {"model": "signature", "prompt": "Count to a thousand:", "max_tokens": 600, "ignore_eos": True,
                          "temperature": 0, "stream": True},
                         {"X-Request-Id": aid, "Authorization": f"Bearer {keys['user']}"}, stop_after=3)
        check(sr["status"] == 200 and sr["n_content"] >= 3 and not sr["done"], f"the stream to abandon: {sr}")
        t_end = time.monotonic() + 20
        while True:
            got = by_request_id(st.rows()).get((kid["user"], aid), [])
            if got or time.monotonic() > t_end:
                break
            time.sleep(0.2)
        check(len(got) == 1, f"a client that went away mid-stream: {len(got)} records within 20 s, expected 1\n{srv.stderr_tail()}")
        b = got[0]["b"]
        check(b.get("finish_reason") == "abort", f"disconnected stream recorded finish_reason {b.get('finish_reason')!r}, expected 'abort'")
        check(sr["n_content"] <= b.get("completion_tokens", 0) < 600,
              f"disconnected stream: recorded completion_tokens {b.get('completion_tokens')}, "
              f"the client saw {sr['n_content']} chunks of 600")
        # a non-streamed request whose client goes away: aborted, recorded
        nid = "dedup-abort-nonstream"
        body = json.dumps({"model": "pirate", "prompt": "Count:", "max_tokens": 600, "ignore_eos": True}).encode()
        sock = srv.connect()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + keys["admin"].encode() + b"\r\nX-Request-Id: " + nid.encode() +
                     b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.8)
        sock.close()
        t_end = time.monotonic() + 20
        while not (got := by_request_id(st.rows()).get((kid["admin"], nid), [])) and time.monotonic() < t_end:
            time.sleep(0.2)
        check(len(got) == 1 and got[0]["b"].get("finish_reason") == "abort" and got[0]["b"]["completion_tokens"] < 600,
              f"a non-streamed request whose client left: records {[g['b'] for g in got]}, expected one with finish 'abort'")
        # the same id three times at once: one record, whichever commits first
        cid = "dedup-concurrent"
        outs = []
        ths = [threading.Thread(target=lambda: outs.append(srv.completion(
            model="caps", max_tokens=5, headers={"X-Request-Id": cid, "Authorization": f"Bearer {keys['admin']}"})))
            for _ in range(3)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        check(len(outs) == 3 and all(o.status == 200 for o in outs), f"three concurrent requests with one id: {outs}")
        got = by_request_id(st.rows()).get((kid["admin"], cid), [])
        check(len(got) == 1, f"three concurrent requests with one X-Request-Id: {len(got)} records, expected 1")
        # SIGTERM with streams in flight: they finish during the drain, are recorded, and the
        # final checkpoint covers them
        res = {}

        def drain_stream(i):
            res[i] = stream_once(srv.host, srv.port, "/v1/completions",
                                 {"model": "caps", "prompt": "Hi", "max_tokens": 40, "ignore_eos": True, "stream": True,
                                  "stream_options": {"include_usage": True}},
                                 {"X-Request-Id": f"dedup-drain-{i}", "Authorization": f"Bearer {keys['user']}"})

        ths = [threading.Thread(target=drain_stream, args=(i,)) for i in range(4)]
        for t in ths:
            t.start()
        time.sleep(0.4)
        srv.stop()
        for t in ths:
            t.join(60)
        rows = st.rows()
        recs = by_request_id(rows)
        for i, r in sorted(res.items()):
            check(r["done"] and r["usage"], f"stream {i} in flight at SIGTERM did not finish: {r}")
            got = recs.get((kid["user"], f"dedup-drain-{i}"), [])
            check(len(got) == 1 and got[0]["b"]["completion_tokens"] == r["usage"]["completion_tokens"],
                  f"stream {i} finished during the drain: records {[g['b'] for g in got]} vs usage {r['usage']}")
        check(len(rows) in checkpoint_sizes(st.ckpt),
              f"after SIGTERM no checkpoint covers all {len(rows)} entries: {checkpoint_sizes(st.ckpt)}")
        st.expect_verify_ok("dedup", n_entries=len(rows), min_checkpoints=1)
        independent_chain_check(rows, st.ckpt, str(st.key) + ".pub", "dedup")

    # ---------------------------------------------------------------------------------------
    # 6. two servers, one PostgreSQL chain

    def two_servers(self):
        d = self.case_dir("two")
        st = self.store(d)
        key, ck = d / "shared.key", d / "shared-checkpoints"
        st.key, st.ckpt = key, ck
        srvs = []
        for name in ("a", "b"):
            sd = d / name
            sd.mkdir()
            srvs.append(self.server(f"two-{name}", sd, st, args=["--ledger-key", key, "--ledger-checkpoints", ck,
                                                                 "--ledger-checkpoint-interval", "1"]))
        # the fleet's signing key, made beforehand (by a server on a scratch SQLite ledger)
        keygen = self.server("two-keygen", d, SqliteStore(d), args=["--ledger", d / "scratch.db", "--ledger-key", key,
                                                                    "--ledger-checkpoints", d / "scratch-ck"])
        keygen.start()
        keygen.stop()
        check(key.exists(), f"{key} was not created")
        # both start at once: the schema and the registry records must be created once
        starters = [threading.Thread(target=s.start, daemon=True) for s in srvs]
        for t in starters:
            t.start()
        for t in starters:
            t.join(120)
        check(all(s.alive() and s.port for s in srvs), "a server did not start: " + " | ".join(s.stderr_tail(8) for s in srvs))
        base = srvs[0].served_name()
        lock = threading.Lock()
        completed, problems = {}, []
        resent = []
        t_stop = time.monotonic() + 14

        def client(ti):
            rng = random.Random(500 + ti)
            n = 0
            while time.monotonic() < t_stop:
                rid = f"two-{ti}-{n}"
                n += 1
                s = srvs[(ti + n) % 2]
                model = rng.choice([base] + list(S.DEMO_ADAPTERS))
                body = {"model": model, "prompt": rng.choice(PROMPTS), "max_tokens": rng.randint(3, 12),
                        "temperature": 0, "ignore_eos": True}
                if rng.random() < 0.5:
                    body.update(stream=True, stream_options={"include_usage": True})
                    r = stream_once(s.host, s.port, "/v1/completions", body, {"X-Request-Id": rid})
                    ok = r["done"] and r["error"] is None
                    usage = r["usage"]
                else:
                    q = s.completion(headers={"X-Request-Id": rid}, **{k: v for k, v in body.items() if k != "model"}, model=model)
                    ok = q.status == 200
                    usage = q.json["usage"] if ok else None
                    r = q
                if not ok:
                    with lock:
                        problems.append(f"{rid} on {s.name}: {r}")
                    continue
                with lock:
                    completed[rid] = usage
                if rng.random() < 0.25:  # the same id again, on the other server: recorded once
                    o = srvs[1 - srvs.index(s)]
                    body.pop("stream", None)
                    body.pop("stream_options", None)
                    q = o.completion(headers={"X-Request-Id": rid}, **{k: v for k, v in body.items() if k != "model"}, model=model)
                    with lock:
                        if q.status != 200:
                            problems.append(f"{rid} resent to {o.name}: {q!r}")
                        else:
                            resent.append(rid)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(6)
        mid = st.verify()  # while both write
        for t in threads:
            t.join(120)
        check(not any(t.is_alive() for t in threads), "client threads still running")
        check(mid[0] == 0, f"ledger verify while both servers write: exit {mid[0]} {short(mid[2].stdout, 500)} {short(mid[2].stderr, 300)}")
        per_server = []
        for s in srvs:
            m = S.metric_values(s.metrics(), r"^openlora_ledger_records_total$")
            per_server.append(m.get("openlora_ledger_records_total", 0))
        for s in srvs:
            s.stop()
        check(not problems, f"{len(problems)} failed requests: " + "; ".join(problems[:4]))
        check(all(x > 0 for x in per_server), f"both servers must have committed records: {per_server}")
        rows = st.rows()
        st.expect_verify_ok("two servers", n_entries=len(rows), min_checkpoints=2)
        independent_chain_check(rows, ck, str(key) + ".pub", "two servers")
        regs = [r for r in rows if r["kind"] == "adapter"]
        check(len(regs) == len(S.DEMO_ADAPTERS), f"two servers wrote {len(regs)} registry records, expected {len(S.DEMO_ADAPTERS)}")
        recs = by_request_id(rows)
        dupes = {k: len(v) for k, v in recs.items() if len(v) > 1}
        check(not dupes, f"request ids recorded twice: {short(dupes, 400)}")
        check(set(k[1] for k in recs) == set(completed),
              f"recorded ids != completed ids: only recorded {sorted(set(k[1] for k in recs) - set(completed))[:5]}, "
              f"only completed {sorted(set(completed) - set(k[1] for k in recs))[:5]}")
        for rid, u in completed.items():
            b = recs[("", rid)][0]["b"]
            check((b["prompt_tokens"], b["completion_tokens"]) == (u["prompt_tokens"], u["completion_tokens"]),
                  f"{rid}: recorded {(b['prompt_tokens'], b['completion_tokens'])} != client usage {u}")
        print(f"  two_servers: {len(completed)} requests ({len(resent)} resent to the other server), {len(rows)} entries, "
              f"records committed per server {per_server}", flush=True)


# ---- main -----------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--case", action="append", help="run only these cases (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    a = ap.parse_args()
    suite_name = f"test_ledger[{a.store}]"
    S.require_model(suite_name)
    pg_url = None
    if a.store == "postgresql":
        pg_url = os.environ.get("OL_TEST_PG_URL")
        if not pg_url:
            msg = "OL_TEST_PG_URL is not set (run through tests/e2e/pgtemp.py)"
            if os.environ.get("OL_REQUIRE_PG") == "1":
                print(f"FAIL {suite_name}: {msg} and OL_REQUIRE_PG=1")
                return 1
            print(f"SKIP {suite_name}: {msg}")
            return 0
        if not shutil.which("psql"):
            print(f"FAIL {suite_name}: psql (postgresql-client) is not installed")
            return 1
    root = tempfile.mkdtemp(prefix=f"ol-ledger-{a.store}-")
    su = Suite(a.store, root, pg_url)
    both = ("sqlite", "postgresql")
    cases = [("crash_kill9_under_stream_load", su.crash, both), ("tamper_evidence", su.tamper, both),
             ("report_by_hand", su.report, both), ("write_failure_disk_full", su.disk_full, ("sqlite",)),
             ("write_failure_read_only", su.read_only, ("sqlite",)), ("dedup_keys_and_abort", su.dedup, both),
             ("two_servers_one_chain", su.two_servers, ("postgresql",))]
    R = S.Runner(suite_name)
    try:
        for name, fn, stores in cases:
            if a.case and name not in a.case and fn.__name__ not in a.case:
                continue
            if a.store not in stores:
                print(f"SKIP {name}: {' and '.join(stores)} only", flush=True)
                continue
            R.case(name, fn, after=su.cleanup)
    finally:
        su.cleanup()
    rc = R.finish()
    if rc == 0 and not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"work directories kept in {root}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
