"""A throwaway PostgreSQL server for tests of the PostgreSQL ledger store.

Plain standard library. PgTemp starts a private server from Debian's binaries
(/usr/lib/postgresql/*/bin, the newest version): a temporary data directory, trust
authentication, fsync on, TCP on 127.0.0.1 at a free port and its Unix socket inside the
temporary directory, with one database created. Everything is stopped and removed on exit, also
on an exception or SIGTERM. initdb refuses to run as root, so as root the directory belongs to
the `postgres` system user and the server runs through `runuser -u postgres --`.

    with PgTemp() as pg:
        run_tests(pg.url)   # postgresql://postgres@127.0.0.1:PORT/openlora_test

As a script, `python3 tests/e2e/pgtemp.py -- CMD ARGS...` starts a server, runs CMD with
OL_TEST_PG_URL set, stops the server and exits with CMD's status. Without PostgreSQL binaries it
prints SKIP and exits 0 (a failure with OL_REQUIRE_PG=1).
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_ROOT = "/usr/lib/postgresql"
SUPERUSER = "postgres"


class PgTempError(RuntimeError):
    pass


def find_bindir():
    """The bin directory of the newest PostgreSQL under /usr/lib/postgresql, or None."""

    def version(d):
        try:
            return float(Path(d).parent.name)
        except ValueError:
            return 0.0

    dirs = [d for d in glob.glob(os.path.join(PG_ROOT, "*", "bin"))
            if os.access(os.path.join(d, "initdb"), os.X_OK)
            and os.access(os.path.join(d, "pg_ctl"), os.X_OK)]
    return max(dirs, key=version) if dirs else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgTemp:
    """A temporary PostgreSQL server. Use as a context manager, or start() and stop()."""

    def __init__(self, dbname="openlora_test", bindir=None):
        self.dbname = dbname
        self.bindir = bindir or find_bindir()
        self.dir = None
        self.port = None
        self.url = None
        self.running = False
        self.as_postgres = os.geteuid() == 0

    # ---- helpers ----

    def _cmd(self, prog, *args):
        cmd = [os.path.join(self.bindir, prog), *args]
        return (["runuser", "-u", SUPERUSER, "--"] + cmd) if self.as_postgres else cmd

    def _run(self, prog, *args, timeout=120, stdin=None):
        # cwd inside the temporary directory: the postgres user may not reach the caller's.
        p = subprocess.run(self._cmd(prog, *args), cwd=self.dir, input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise PgTempError(f"{prog} {' '.join(args)} failed ({p.returncode}):\n{p.stdout}")
        return p.stdout

    def _log_tail(self, n=40):
        try:
            lines = Path(self.dir, "server.log").read_text(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no server log)"

    # ---- lifecycle ----

    def start(self):
        if not self.bindir:
            raise PgTempError(f"no PostgreSQL server binaries under {PG_ROOT}/*/bin")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="ol-pgtemp-")
        os.chmod(self.dir, 0o700)
        if self.as_postgres:
            pw = pwd.getpwnam(SUPERUSER)  # KeyError: the postgresql package is not installed
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            # The server must reach its directory: /tmp is world-traversable, a custom
            # TMPDIR may not be.
            for parent in Path(self.dir).parents:
                if not os.stat(parent).st_mode & 0o001:
                    raise PgTempError(f"{parent} is not traversable by the {SUPERUSER} user; "
                                      "set TMPDIR to a directory that is (e.g. /tmp)")
        data = os.path.join(self.dir, "data")
        sock = os.path.join(self.dir, "sock")
        self._run("initdb", "-D", data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        # mkdir as the server's user, so it can create its socket there.
        if self.as_postgres:
            subprocess.run(["runuser", "-u", SUPERUSER, "--", "mkdir", "-m", "700", sock],
                           cwd=self.dir, check=True)
        else:
            os.mkdir(sock, 0o700)

        # A port found free can be taken before the server binds it: try a few.
        last = None
        for _ in range(5):
            self.port = free_port()
            opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 "
                    f"-c unix_socket_directories={sock} -c fsync=on -c synchronous_commit=on "
                    "-c max_connections=50 -c shared_buffers=16MB")
            try:
                self._run("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "server.log"),
                          "-o", opts, "-w", "-t", "60", "start")
                self.running = True
                break
            except PgTempError as e:
                last = f"{e}\nserver log:\n{self._log_tail()}"
        if not self.running:
            raise PgTempError(f"PostgreSQL did not start:\n{last}")

        self._createdb(sock)
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.dbname}"

    def _createdb(self, sock):
        if os.access(os.path.join(self.bindir, "createdb"), os.X_OK):
            self._run("createdb", "-h", sock, "-p", str(self.port), "-U", SUPERUSER, self.dbname)
        else:  # psql then, with the statement quoted as an identifier
            name = self.dbname.replace('"', '""')
            self._run("psql", "-h", sock, "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres",
                      "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"')

    def stop(self):
        """Stop the server and remove the directory. Safe to call more than once."""
        if self.running:
            data = os.path.join(self.dir, "data")
            try:
                self._run("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop",
                          timeout=60)
            except (PgTempError, subprocess.TimeoutExpired):
                self._kill_postmaster(data)
            self.running = False
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @staticmethod
    def _kill_postmaster(data):
        try:
            pid = int(Path(data, "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGQUIT)  # immediate shutdown; children follow
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _raise_on_signal(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through the with-block, which stops the server


def main(argv):
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: pgtemp.py -- CMD [ARGS...]", file=sys.stderr)
        return 2
    cmd = argv[argv.index("--") + 1:]
    if not find_bindir():
        msg = f"no PostgreSQL server binaries under {PG_ROOT}/*/bin (apt-get install postgresql)"
        if os.environ.get("OL_REQUIRE_PG") == "1":
            print(f"FAIL pgtemp: {msg} and OL_REQUIRE_PG=1")
            return 1
        print(f"SKIP pgtemp: {msg}")
        return 0
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _raise_on_signal)
    try:
        with PgTemp() as pg:
            print(f"pgtemp: PostgreSQL at {pg.url}", flush=True)
            env = dict(os.environ, OL_TEST_PG_URL=pg.url)
            rc = subprocess.run(cmd, env=env).returncode
    except PgTempError as e:
        print(f"FAIL pgtemp: {e}")
        return 1
    return rc if rc >= 0 else 128 - rc  # killed by a signal: the shell's convention


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
