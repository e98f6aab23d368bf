"""Hostile clients of alertd's listener, speaking raw TCP so that they keep testing whatever
HTTP server alertd uses: an idle-connection flood, a header dribbler, scrapers in a separate
process, and a daemon started under a lowered descriptor limit.

Nothing here knows how alertd's server is written: only what a client sees on the wire, and
what the daemon's /proc entry and log show.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from support.daemon import POLL_EVENTS, DaemonProcess

ADDRESS = "127.0.0.1"


# -- what the daemon holds and logs --------------------------------------------------------------


def open_descriptors(pid: int) -> int:
    """Descriptors the process holds right now (sockets, files, pipes)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def poll_counts(daemon: DaemonProcess, event: str = "poll") -> Counter[str]:
    """Polls per provider in the log so far, read once (not once per provider)."""
    return Counter(str(e.get("provider")) for e in daemon.events(event))


def log_lines(daemon: DaemonProcess) -> list[str]:
    return daemon.stderr.splitlines()


def not_polls(lines: list[str]) -> list[str]:
    """Log lines other than the per-poll ones (what a flood of errors would show up as)."""
    kept = []
    for line in lines:
        try:
            event = json.loads(line).get("event")
        except (ValueError, AttributeError):
            event = None
        if event not in POLL_EVENTS:
            kept.append(line)
    return kept


# -- raw HTTP -----------------------------------------------------------------------------------


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response: (status, headers, body); status 0 if the server closed without one."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return 0, {}, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def exchange(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Sends `data` as is on a new connection and reads one response."""
    with socket.create_connection((ADDRESS, port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = f"{method} {path} HTTP/1.1\r\nHost: {ADDRESS}\r\nConnection: close\r\n\r\n"
    return exchange(port, request.encode())


def seconds_until_closed(sock: socket.socket, limit: float, dribble: bytes = b"") -> float:
    """Sends `dribble` one byte every 0.5 s (nothing if empty) until the server closes the
    connection or answers; the seconds that took, or `limit` if it never did (bounded)."""
    started = time.monotonic()
    sock.settimeout(0.5)
    sent = 0
    while time.monotonic() - started < limit:
        try:
            sock.recv(4096)  # b"" (closed) or an answer (a 408, say): either ends it
            return time.monotonic() - started
        except TimeoutError:
            pass
        except OSError:
            return time.monotonic() - started
        if dribble:
            try:
                sock.sendall(dribble[sent % len(dribble) :][:1])
            except OSError:
                return time.monotonic() - started
            sent += 1
    return limit


# -- the idle flood ---------------------------------------------------------------------------


class IdleFlood(threading.Thread):
    """Keeps `target` sockets connecting or connected to the listener, sending nothing on
    them (non-blocking connects: a listener that stops accepting leaves them waiting in its
    queue, as a real attacker's would). Those the server closes, or that fail to connect,
    are replaced every `reopen_every` seconds. Runs for `duration` seconds."""

    def __init__(self, port: int, target: int, duration: float, reopen_every: float = 1) -> None:
        super().__init__(name="idle-flood", daemon=True)
        self.port, self.target = port, target
        self.duration, self.reopen_every = duration, reopen_every
        self.opened = 0  # connections established, in all
        self.connect_failures = 0
        self.closed_by_server = 0
        self.peak_open = 0  # established at once
        self.peak_held = 0  # connecting or established at once
        self.stop_event = threading.Event()
        self._connected: set[socket.socket] = set()

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        deadline = time.monotonic() + self.duration
        next_top_up = 0.0
        try:
            while time.monotonic() < deadline and not self.stop_event.is_set():
                if time.monotonic() >= next_top_up:
                    while len(selector.get_map()) < self.target:
                        self._connect(selector)
                    self.peak_held = max(self.peak_held, len(selector.get_map()))
                    next_top_up = time.monotonic() + self.reopen_every
                for key, _ in selector.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock not in self._connected:
                        self._connected_or_failed(selector, sock)
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:  # closed by the server (after a 503 or not at all)
                        self._drop(selector, sock)
                        self.closed_by_server += 1
        finally:
            for key in list(selector.get_map().values()):
                assert isinstance(key.fileobj, socket.socket)
                key.fileobj.close()
            selector.close()

    def _connect(self, selector: selectors.BaseSelector) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((ADDRESS, self.port))
        selector.register(sock, selectors.EVENT_WRITE)

    def _connected_or_failed(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            self._drop(selector, sock)
            self.connect_failures += 1
            return
        self._connected.add(sock)
        selector.modify(sock, selectors.EVENT_READ)
        self.opened += 1
        self.peak_open = max(self.peak_open, len(self._connected))

    def _drop(self, selector: selectors.BaseSelector, sock: socket.socket) -> None:
        selector.unregister(sock)
        self._connected.discard(sock)
        sock.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


# -- scrapers in their own process ------------------------------------------------------------

_SCRAPERS = textwrap.dedent(
    """
    import json, socket, sys, threading, time
    port, clients, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    request = b"GET /metrics HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n"
    results, lock = [], threading.Lock()
    deadline = time.monotonic() + duration

    def scrape():
        while time.monotonic() < deadline:
            status, size = 0, 0
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    sock.sendall(request)
                    first = b""
                    while True:
                        chunk = sock.recv(1 << 20)
                        if not chunk:
                            break
                        if not first:
                            first = chunk
                        size += len(chunk)
                    parts = first.split(b" ", 2)
                    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            except OSError:
                status = -1
            with lock:
                results.append((status, size))

    threads = [threading.Thread(target=scrape) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = {}
    for status, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    largest = max((size for _, size in results), default=0)
    print(json.dumps({"statuses": statuses, "largest": largest}))
    """
)


def scrape_metrics(port: int, clients: int, duration: float) -> dict[str, Any]:
    """`clients` threads in a separate process (not competing with the test's simulator for
    its GIL) pulling /metrics in a loop for `duration` s: {"statuses": {...}, "largest": n}."""
    result = subprocess.run(
        [sys.executable, "-c", _SCRAPERS, str(port), str(clients), str(duration)],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    )
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def highest_descriptor(pid: int) -> int:
    return max(int(fd) for fd in os.listdir(f"/proc/{pid}/fd"))
