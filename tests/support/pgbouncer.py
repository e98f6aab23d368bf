"""PgBouncer (Debian's `pgbouncer`) in transaction pooling mode in front of the test
PostgreSQL: server sessions are handed to whichever client has a transaction to run, so
anything that relies on session state (a prepared statement, an advisory lock, a `SET`)
breaks or leaks between clients. alertd must work behind it (SPEC §7).

`pool_size` server sessions per database serve every client, so with 1 each statement of
every replica runs on the same server session in turn. PgBouncer refuses to run as root:
as root it runs as the `postgres` user (as the server does). Missing: an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from support.postgres import SUPERUSER, PostgresServer


@contextlib.contextmanager
def pgbouncer(server: PostgresServer, pool_size: int = 1) -> Iterator[int]:
    """A running PgBouncer for `server`; yields its port on 127.0.0.1."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise RuntimeError("pgbouncer not found: apt-get install pgbouncer (.ci/run does)")
    directory = server.root / f"pgbouncer-{time.monotonic_ns()}"
    directory.mkdir()
    port = _free_port()
    (directory / "users.txt").write_text(f'"{SUPERUSER}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                f"* = host=127.0.0.1 port={server.port}",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {directory / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {pool_size}",
                "max_client_conn = 200",
                "server_reset_query =",
                f"logfile = {directory / 'pgbouncer.log'}",
                "",
            ]
        )
    )
    command = [binary, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        for child in directory.iterdir():
            shutil.chown(child, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            error = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"pgbouncer exited ({proc.returncode}): {error[-500:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not listen in time")
