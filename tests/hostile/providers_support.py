"""What the hostile-provider tests serve and measure: decompression bombs built by streaming,
a loopback TLS server with a throwaway self-signed certificate, a process's peak RSS.
"""

from __future__ import annotations

import functools
import ssl
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support.http_stub import HttpStub

BOMB_EXPANDED = 1024**3  # 1 GiB of zeros once decoded


@functools.cache
def gzip_bomb() -> bytes:
    """One gzip layer of 1 GiB of zeros (~1.0 MB, under the 1 MiB raw cap), compressed a
    MiB at a time: the test process never holds the expanded bytes."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(BOMB_EXPANDED // len(zeros))]
    parts.append(compressor.flush())
    return b"".join(parts)


@functools.cache
def stacked_gzip_bomb() -> bytes:
    """`gzip_bomb()` gzipped again: ~2 KB on the wire, sent as `Content-Encoding: gzip, gzip`."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return compressor.compress(gzip_bomb()) + compressor.flush()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (the `openssl` CLI), and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@contextmanager
def tls_serving(directory: Path) -> Iterator[HttpStub]:
    """An `HttpStub` speaking HTTPS with a self-signed certificate (so `https://` URL)."""
    cert, key = self_signed_certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with HttpStub(tls=context) as server:
        yield server


def https_url(server: HttpStub) -> str:
    return server.url.replace("http://", "https://", 1)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process has had since start or `reset_peak`."""
    return _status_kib(pid, "VmHWM")


def rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def reset_peak(pid: int) -> None:
    """Brings VmHWM down to the current RSS (Linux clear_refs 5), so a later peak is the
    peak of what happened since."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
