"""Helpers for the end-to-end tests of `openlora serve` (tests/e2e/test_*.py).

Plain standard library, no test framework: a Server that starts the real binary and stops it,
HTTP helpers (http.client) and raw-socket helpers for malformed HTTP, and a tiny case runner
that prints one PASS/FAIL line per case.

Environment:
  OL_BIN            the openlora binary (default <repo>/build/openlora)
  OPENLORA_MODEL    the model (default ${XDG_CACHE_HOME:-~/.cache}/openlora/gemma-3-270m-q4_k_m.gguf)
  OL_REQUIRE_MODEL  1: a missing model is a failure instead of a skip
  OL_E2E_VERBOSE    1: echo the servers' stderr as it arrives
"""

import atexit
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADAPTERS_DIR = REPO / "adapters"
DEMO_ADAPTERS = ("caps", "french", "pirate", "signature")
DEFAULT_MODEL_FILE = "gemma-3-270m-q4_k_m.gguf"
LISTEN_RE = re.compile(r"openlora: listening on http://(\[[^\]]+\]|[^\s:/]+):(\d+)")
VERBOSE = os.environ.get("OL_E2E_VERBOSE") == "1"


# ---- locations ------------------------------------------------------------------------------


def bin_path():
    b = os.environ.get("OL_BIN")
    return Path(b) if b else REPO / "build" / "openlora"


def model_path():
    m = os.environ.get("OPENLORA_MODEL")
    if m:
        return Path(m)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "openlora" / DEFAULT_MODEL_FILE


def require_model(test_name):
    """Returns the model path; without the model prints SKIP and exits 0 (or fails when
    OL_REQUIRE_MODEL=1). Also checks that the binary exists."""
    m = model_path()
    if not m.is_file():
        if os.environ.get("OL_REQUIRE_MODEL") == "1":
            print(f"FAIL {test_name}: no model at {m} and OL_REQUIRE_MODEL=1 (run scripts/fetch_model.sh)")
            sys.exit(1)
        print(f"SKIP {test_name}: no model at {m} (run scripts/fetch_model.sh)")
        sys.exit(0)
    b = bin_path()
    if not os.access(b, os.X_OK):
        print(f"FAIL {test_name}: no executable openlora at {b} (set OL_BIN)")
        sys.exit(1)
    raise_fd_limit()
    return m


def raise_fd_limit(want=8192):
    """Servers inherit our limits: make room for a thousand connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass


# ---- assertions -----------------------------------------------------------------------------


class CheckFailed(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def short(b, n=300):
    if isinstance(b, (bytes, bytearray)):
        b = bytes(b).decode("utf-8", "backslashreplace")
    s = str(b)
    return s if len(s) <= n else s[:n] + f"...(+{len(s) - n})"


# ---- HTTP -----------------------------------------------------------------------------------


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names (last value wins)
        self.header_list = []  # [(name, value)] as received
        self.body = body
        self._json = None
        self._json_done = False

    @property
    def json(self):
        if not self._json_done:
            self._json_done = True
            try:
                self._json = json.loads(self.body.decode("utf-8", "strict"))
            except (UnicodeDecodeError, ValueError):
                self._json = None
        return self._json

    def __repr__(self):
        return f"HTTP {self.status} {short(self.body)}"


def expect_error(r, status, etype, code=None, param=None, msg_contains=None, what=""):
    """The spec's error shape: {"error": {"message": str, "type": str, "param": str|null,
    "code": str|null}} with the given status, type and (when given) code and param."""
    where = f"{what}: " if what else ""
    check(r.status == status, f"{where}expected HTTP {status} {etype}{'/' + code if code else ''}, got {r!r}")
    j = r.json
    check(isinstance(j, dict) and isinstance(j.get("error"), dict), f"{where}error body is not {{'error': {{...}}}}: {short(r.body)}")
    e = j["error"]
    for k in ("message", "type", "param", "code"):
        check(k in e, f"{where}error object lacks '{k}': {short(r.body)}")
    check(isinstance(e["message"], str) and e["message"], f"{where}error.message not a non-empty string: {short(r.body)}")
    check(e["param"] is None or isinstance(e["param"], str), f"{where}error.param not str|null: {short(r.body)}")
    check(e["code"] is None or isinstance(e["code"], str), f"{where}error.code not str|null: {short(r.body)}")
    check(e["type"] == etype, f"{where}expected error.type {etype!r}, got {e['type']!r} ({short(r.body)})")
    if code is not None:
        check(e["code"] == code, f"{where}expected error.code {code!r}, got {e['code']!r} ({short(r.body)})")
    if param is not None:
        check(e["param"] == param, f"{where}expected error.param {param!r}, got {e['param']!r} ({short(r.body)})")
    if msg_contains is not None:
        check(msg_contains in e["message"], f"{where}error.message lacks {msg_contains!r}: {e['message']!r}")
    ct = r.headers.get("content-type", "")
    check("application/json" in ct, f"{where}error Content-Type is {ct!r}, expected application/json")
    return e


def parse_sse(body):
    """SSE body bytes -> list of data payloads (bytes), in order. Checks the framing."""
    check(body.endswith(b"\n\n"), f"stream does not end with a blank line: ...{short(body[-80:])}")
    events = []
    for block in body.split(b"\n\n"):
        if not block.strip():
            continue
        datas = [ln[5:].lstrip(b" ") for ln in block.split(b"\n") if ln.startswith(b"data:")]
        check(datas, f"SSE event without data: {short(block)}")
        events.append(b"\n".join(datas))
    return events


# ---- raw sockets ----------------------------------------------------------------------------


class RawResult:
    def __init__(self, data, eof, reset, timed_out, send_error):
        self.data = data
        self.eof = eof  # the server closed the connection (FIN)
        self.reset = reset  # ECONNRESET / EPIPE
        self.timed_out = timed_out
        self.send_error = send_error

    @property
    def status(self):
        m = re.match(rb"HTTP/1\.[01] (\d{3})", self.data)
        return int(m.group(1)) if m else None

    @property
    def closed(self):
        return self.eof or self.reset

    def response(self):
        """Parse the first HTTP response in data (Content-Length or close-delimited)."""
        head, sep, rest = self.data.partition(b"\r\n\r\n")
        check(sep, f"no complete HTTP response: {short(self.data)}")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        if "content-length" in headers:
            rest = rest[: int(headers["content-length"])]
        r = Response(status, headers, rest)
        return r

    def __repr__(self):
        how = "reset" if self.reset else "eof" if self.eof else "timeout" if self.timed_out else "?"
        return f"<raw {how} {short(self.data)}>"


# ---- the server -----------------------------------------------------------------------------


class ServerDied(Exception):
    pass


class Server:
    """One `openlora serve` process on a free port."""

    def __init__(self, name="server", args=(), adapters_dirs=None, threads=2, drain_timeout=10, env=None, model=None,
                 cwd=None, preexec_fn=None):
        self.name = name
        self.cwd = str(cwd) if cwd is not None else str(REPO)  # relative paths (the ledger's defaults) land here
        self.preexec_fn = preexec_fn  # run in the child before exec (resource limits)
        self.args = [str(a) for a in args]
        self.adapters_dirs = [str(d) for d in (adapters_dirs if adapters_dirs is not None else [ADAPTERS_DIR])]
        self.threads = threads
        self.drain_timeout = drain_timeout
        self.extra_env = env or {}
        self.model = str(model or model_path())
        self.proc = None
        self.host = None
        self.port = None
        self.stderr_lines = []
        self.touched = False
        self._listen = threading.Event()
        self._lock = threading.Lock()

    # -- life cycle

    def command(self):
        cmd = [str(bin_path()), "serve", "--port", "0", "-m", self.model, "-t", str(self.threads)]
        for d in self.adapters_dirs:
            cmd += ["--adapters-dir", d]
        if self.drain_timeout is not None:
            cmd += ["--drain-timeout", str(self.drain_timeout)]
        if self.cwd == str(REPO) and not any(a.startswith(("--ledger", "--no-ledger")) for a in self.args):
            # suites that are not about the ledger keep theirs in a temp dir, not in the checkout
            if not getattr(self, "_ledger_dir", None):
                self._ledger_dir = tempfile.mkdtemp(prefix="ol_e2e_ledger_")
                atexit.register(shutil.rmtree, self._ledger_dir, True)
            d = self._ledger_dir
            cmd += ["--ledger", f"{d}/ledger.db", "--ledger-checkpoints", f"{d}/checkpoints",
                    "--ledger-key", f"{d}/ledger.key"]
        return cmd + self.args

    def start(self, timeout=120):
        env = dict(os.environ)
        for k in ("OPENLORA_API_KEY", "OPENLORA_PORT", "OPENLORA_HOST", "OPENLORA_ADAPTERS_DIR"):
            env.pop(k, None)
        env.update(self.extra_env)
        self.stderr_lines = []
        self._listen.clear()
        self.host = self.port = None
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=self.cwd,
                                     preexec_fn=self.preexec_fn)
        threading.Thread(target=self._pump, args=(self.proc.stderr, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, False), daemon=True).start()
        t_end = time.monotonic() + timeout
        while not self._listen.wait(0.05):
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise ServerDied(f"{self.name}: exited with {self.proc.returncode} before listening; "
                                 f"command: {' '.join(self.command())}\nstderr:\n{self.stderr_tail()}")
            if time.monotonic() > t_end:
                self.kill()
                raise ServerDied(f"{self.name}: no 'openlora: listening on http://HOST:PORT' line within "
                                 f"{timeout}s\nstderr:\n{self.stderr_tail()}")
        while True:
            try:
                r = self.request("GET", "/ready", timeout=5)
                if r.status == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise ServerDied(f"{self.name}: exited with {self.proc.returncode} before /ready\n{self.stderr_tail()}")
            if time.monotonic() > t_end:
                self.kill()
                raise ServerDied(f"{self.name}: GET /ready never returned 200 within {timeout}s")
            time.sleep(0.1)
        self.touched = False
        return self

    def _pump(self, stream, is_err):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if is_err:
                with self._lock:
                    self.stderr_lines.append(line)
                    if len(self.stderr_lines) > 2000:
                        del self.stderr_lines[:1000]
                m = LISTEN_RE.search(line)
                if m and not self._listen.is_set():
                    h = m.group(1).strip("[]")
                    self.host = "127.0.0.1" if h in ("0.0.0.0", "localhost") else ("::1" if h == "::" else h)
                    self.port = int(m.group(2))
                    self._listen.set()
            if VERBOSE:
                print(f"  [{self.name}{'' if is_err else ' stdout'}] {line}", flush=True)
        stream.close()

    def stderr_tail(self, n=25):
        with self._lock:
            return "\n".join(self.stderr_lines[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """SIGTERM, then the process must exit 0 within the drain timeout (+ a grace period).
        Raises CheckFailed otherwise (after killing it)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            self.proc = None
            check(rc == 0, f"{self.name}: had already exited with {rc}\n{self.stderr_tail()}")
            return rc
        self.proc.send_signal(sig)
        limit = timeout if timeout is not None else (self.drain_timeout or 30) + 10
        try:
            rc = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CheckFailed(f"{self.name}: still running {limit}s after {signal.Signals(sig).name}; killed\n"
                              f"{self.stderr_tail()}")
        self.proc = None
        check(rc == 0, f"{self.name}: exit code {rc} after {signal.Signals(sig).name} (expected 0)\n{self.stderr_tail()}")
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def signal(self, sig):
        self.proc.send_signal(sig)

    # -- HTTP

    @property
    def base_url(self):
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{h}:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One request on a fresh connection. body: bytes, str or a JSON-able object."""
        self.touched = True
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray, str)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            r = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
            r.header_list = resp.getheaders()
            return r
        finally:
            conn.close()

    def post(self, path, obj, headers=None, timeout=60):
        return self.request("POST", path, obj, headers, timeout)

    def get(self, path, headers=None, timeout=60):
        return self.request("GET", path, None, headers, timeout)

    def connect(self, timeout=10):
        self.touched = True
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        return s

    def raw(self, data, timeout=10, chunk_delay=0.0, chunks=None):
        """Send bytes on a fresh socket (in a thread, so a server that answers early and closes
        does not deadlock us) and read until the server closes or `timeout` passes."""
        s = self.connect(timeout)
        parts = chunks if chunks is not None else [data]
        send_err = []

        def sender():
            try:
                for p in parts:
                    s.sendall(p)
                    if chunk_delay:
                        time.sleep(chunk_delay)
            except OSError as e:
                send_err.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        out = bytearray()
        eof = reset = timed_out = False
        t_end = time.monotonic() + timeout
        try:
            while True:
                left = t_end - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                s.settimeout(left)
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    timed_out = True
                    break
                except (ConnectionResetError, BrokenPipeError):
                    reset = True
                    break
                if not b:
                    eof = True
                    break
                out += b
                # a complete response with Content-Length: done
                head, sep, rest = bytes(out).partition(b"\r\n\r\n")
                if sep:
                    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
                    if m and len(rest) >= int(m.group(1)):
                        break
        finally:
            s.close()
        t.join(1)
        return RawResult(bytes(out), eof, reset, timed_out, send_err[0] if send_err else None)

    # -- conveniences

    def completion(self, prompt="The capital of France is", max_tokens=4, model=None, headers=None, **kw):
        body = {"model": model or self.served_name(), "prompt": prompt, "max_tokens": max_tokens,
                "temperature": 0}
        body.update(kw)
        return self.post("/v1/completions", body, headers=headers)

    _served = None

    def served_name(self):
        if self._served is None:
            self._served = Path(self.model).name[: -len(".gguf")] if self.model.endswith(".gguf") else Path(self.model).name
        return self._served

    def metrics(self):
        r = self.get("/metrics")
        check(r.status == 200, f"GET /metrics: {r!r}")
        return r.body.decode("utf-8", "replace")


def metric_values(text, name_re):
    """{series: value} for the sample lines whose series (name plus labels) matches name_re."""
    out = {}
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", ln)
        if m and re.search(name_re, m.group(1) + (m.group(2) or "")):
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


# ---- the runner -----------------------------------------------------------------------------


class Runner:
    """Runs cases in order, one PASS/FAIL line each; `after` (if given) runs after every case
    and its failure fails that case."""

    def __init__(self, suite):
        self.suite = suite
        self.failed = []
        self.passed = 0
        self.t0 = time.monotonic()

    def case(self, name, fn, after=None):
        t = time.monotonic()
        err = None
        try:
            fn()
        except CheckFailed as e:
            err = str(e)
        except Exception as e:  # an unexpected exception is a failure of that case
            err = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
        if after is not None:
            try:
                after()
            except Exception as e:
                err = (err + "\n  then: " if err else "afterwards: ") + f"{type(e).__name__}: {e}"
        dt = time.monotonic() - t
        if err is None:
            self.passed += 1
            print(f"PASS {name} ({dt:.1f}s)", flush=True)
        else:
            self.failed.append(name)
            msg = err.rstrip().replace("\n", "\n     ")
            print(f"FAIL {name} ({dt:.1f}s): {msg}", flush=True)

    def finish(self):
        dt = time.monotonic() - self.t0
        total = self.passed + len(self.failed)
        if self.failed:
            print(f"{self.suite}: {len(self.failed)} of {total} cases FAILED ({dt:.1f}s): {', '.join(self.failed)}")
            return 1
        print(f"{self.suite}: all {total} cases passed ({dt:.1f}s)")
        return 0
