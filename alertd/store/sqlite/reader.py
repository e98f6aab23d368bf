"""Reads off the event loop: one daemon thread with its own read-only connection, taking
jobs from a bounded queue, each answered into an asyncio future.

In WAL mode a reader never waits for the writer nor holds it up, so reads (the start-up
load, the status page's history) run beside the writes. The thread is a daemon: a read
stuck on a dead disk never keeps alertd from exiting, and whoever awaits bounds the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], Any], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]

MAX_WAITING = 32
READ_TIMEOUT = 60.0  # a year of history for a thousand providers loads in seconds


class ReadFailed(Exception):
    """The read could not be done (queue full, timed out, or SQLite's error): a reason."""


class Reader:
    def __init__(self, connect: Callable[[], sqlite3.Connection], path: Path) -> None:
        self._connect = connect
        self._jobs: queue.Queue[Job | None] = queue.Queue(MAX_WAITING)
        self._thread = threading.Thread(
            target=self._run, name=f"alertd-read {path.name}", daemon=True
        )
        self._started = False

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """`job(connection)` in the reader thread; ReadFailed when it cannot be done."""
        if not self._started:
            self._started = True
            self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        try:
            self._jobs.put_nowait((job, loop, future))
        except queue.Full:
            raise ReadFailed(f"more than {MAX_WAITING} reads already waiting") from None
        try:
            return await asyncio.wait_for(future, READ_TIMEOUT)
        except TimeoutError:
            raise ReadFailed(f"the read did not finish within {READ_TIMEOUT:g}s") from None

    def close(self) -> None:
        if self._started:
            with contextlib.suppress(queue.Full):
                self._jobs.put_nowait(None)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        while (item := self._jobs.get()) is not None:
            job, loop, future = item
            result: Any = None
            try:
                conn = conn or self._connect()
                result = job(conn)
            except sqlite3.Error as exc:
                result = ReadFailed(str(exc))
            except Exception as exc:  # a bug in a job: handed to whoever waits
                result = exc
            settle_soon(loop, future, result)
        if conn is not None:
            conn.close()


def settle_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any) -> None:
    """From a thread: `future` gets `result` (raised if it is an exception) on its loop,
    unless it is done already (timed out: nobody waits) or the loop closed (alertd exited)."""

    def settle() -> None:
        if future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)
