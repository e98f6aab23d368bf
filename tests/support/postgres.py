"""A real PostgreSQL server from the system packages, on 127.0.0.1, for the store and HA tests.

One server per test session (initdb and a start take about two seconds), a fresh database per
test (`CREATE DATABASE`: milliseconds). Debian installs the server binaries outside PATH, in
`/usr/lib/postgresql/<version>/bin`; `initdb` refuses to run as root, so as root the cluster
belongs to the `postgres` system user and is run through `runuser` (GUIDE.md). The data
directory is a temp dir outside pytest's (root's 0700 tmp tree is closed to `postgres`).

A missing PostgreSQL is an error, never a skip: the suite must skip nothing, and `.ci/run`
installs the `postgresql` package.

Durability is traded for speed (fsync, full-page writes off): these databases are thrown away.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

SUPERUSER = "alertd"
START_TIMEOUT_S = 30


class PostgresMissing(RuntimeError):
    """The `postgresql` package is not installed: install it (`.ci/run` does)."""


def server_binaries() -> Path:
    """The newest installed server's bin directory."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name.split(".")[0]),
    )
    if not found:
        raise PostgresMissing(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: "
            "apt-get install postgresql (the HA and store tests need a real server)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One cluster in a temp dir: `start`, `stop`, `restart`, `database()`, `url()`."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="alertd-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self._databases = 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)

    # -- running the server's tools ----------------------------------------------------------
    def _run(self, tool: str, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def init(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8")
        return self

    def start(self) -> PostgresServer:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c fsync=off",
                "-c full_page_writes=off",
                "-c synchronous_commit=off",
                "-c max_connections=200",
            ]
        )
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` (sessions cut, like a restart by an operator) or `immediate` (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def ensure_running(self) -> None:
        """A test that stopped the server and failed before starting it again leaves it down."""
        if not self.running():
            with contextlib.suppress(RuntimeError):
                self.stop("immediate")
            self.start()

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ---------------------------------------------------------------------------
    def url(self, database: str, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}" + (
            f"?{query}" if query else ""
        )

    def database(self) -> str:
        """A new empty database; its name."""
        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[object, ...]]:
        """One statement as the superuser, in autocommit; its rows (if any)."""
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def terminate(self, application_name: str, database: str | None = None) -> int:
        """`pg_terminate_backend` of every session whose application_name matches (LIKE);
        how many."""
        where = "application_name LIKE %(app)s"
        if database is not None:
            where += " AND datname = %(db)s"
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}".encode(),
                {"app": application_name, "db": database},
            ).fetchall()
        return sum(1 for (done,) in rows if done)


def start_server() -> PostgresServer:
    """A running server; raises PostgresMissing when the package is not installed."""
    server = PostgresServer()
    try:
        server.init().start()
    except BaseException:
        server.destroy()
        raise
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.running():
        if time.monotonic() > deadline:
            server.destroy()
            raise RuntimeError("PostgreSQL did not accept connections in time")
        time.sleep(0.1)
    return server
