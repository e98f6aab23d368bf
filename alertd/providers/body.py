"""A provider's response body, read and decoded under one cap on the bytes it becomes.

httpx decodes a compressed body a whole network chunk at a time and stacks decoders for
`Content-Encoding: gzip, gzip`, so a 6.8 KB body could expand to gigabytes before any size
check saw it (8 GB of RSS, the loop frozen for 25 s). Here the raw bytes are read undecoded
and inflated with zlib's `max_length`, so no more than `cap + 1` decoded bytes ever exist.
Only the codings alertd asks for (`ACCEPT_ENCODING`) are decoded, one layer of them at most:
anything else is refused with its name before a byte of the body is read.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

from alertd.errors import ResponseError
from alertd.text import printable

ACCEPT_ENCODING = "gzip, deflate"
_GZIP = zlib.MAX_WBITS | 16
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
_IDENTITY = {"", "identity"}
_WBITS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": _ZLIB}


def too_big(cap: int) -> ResponseError:
    return ResponseError(f"response body over {cap // 1024} KiB refused")


def wbits_for(content_encoding: str | None) -> int | None:
    """zlib's window bits for the body's coding (None: not encoded), or a ResponseError."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [c for c in codings if c not in _IDENTITY]
    if not codings:
        return None
    if len(codings) > 1:
        shown = printable(", ".join(codings), 60)
        raise ResponseError(f"stacked content encodings refused ({shown})")
    wbits = _WBITS.get(codings[0])
    if wbits is None:
        shown = printable(codings[0], 40)
        raise ResponseError(
            f"content encoding '{shown}' refused (alertd asks for {ACCEPT_ENCODING})"
        )
    return wbits


class _Inflater:
    """zlib decompression that never produces more than `cap` bytes in all."""

    def __init__(self, wbits: int, cap: int) -> None:
        self._wbits = wbits
        self._cap = cap
        self._size = 0
        self._started = False
        self._fed = False
        self._zlib = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        self._fed = self._fed or bool(data)
        while data:
            try:
                piece = self._zlib.decompress(data, self._cap - self._size + 1)
            except zlib.error:
                if self._wbits == _ZLIB and not self._started:
                    # "deflate" sent as raw deflate, without the zlib header: common enough
                    self._wbits = _RAW_DEFLATE
                    self._zlib = zlib.decompressobj(_RAW_DEFLATE)
                    continue
                raise ResponseError("response body is not valid compressed data") from None
            self._started = True
            self._size += len(piece)
            if self._size > self._cap:
                raise too_big(self._cap)
            out.append(piece)
            if self._zlib.eof:
                break  # trailing bytes after the stream end are ignored, as httpx does
            data = self._zlib.unconsumed_tail
        return b"".join(out)

    def finish(self) -> bytes:
        if self._fed and not self._zlib.eof:  # an empty body is just empty
            raise ResponseError("response body is truncated compressed data")
        return b""


async def read_capped(raw: AsyncIterator[bytes], content_encoding: str | None, cap: int) -> bytes:
    """The decoded body from the raw byte stream; over `cap` (raw or decoded) is refused."""
    wbits = wbits_for(content_encoding)
    inflater = None if wbits is None else _Inflater(wbits, cap)
    chunks: list[bytes] = []
    received = 0
    async for chunk in raw:
        received += len(chunk)
        if received > cap:
            raise too_big(cap)
        chunks.append(chunk if inflater is None else inflater.feed(chunk))
    if inflater is not None:
        chunks.append(inflater.finish())
    return b"".join(chunks)
