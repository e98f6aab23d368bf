"""Blocking work in a daemon thread, its outcome awaited on the event loop.

`asyncio.to_thread` runs in executor threads that the interpreter joins at exit: a hung
Apprise send or a config load stuck on a FIFO kept alertd alive past SIGTERM (issue 8). A
daemon thread never delays the exit; whoever waits bounds the wait itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def in_daemon_thread(
    func: Callable[..., T], *args: Any, name: str
) -> tuple[asyncio.Future[T], threading.Thread]:
    """Starts `func(*args)` (with the caller's context variables) in a daemon thread; its
    result or exception arrives in the returned future. The thread is returned too, so a
    caller that stops waiting can tell whether it is still running."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():  # cancelled or timed out: nobody waits any more
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = context.run(func, *args), None
        except BaseException as exc:  # handed to the waiting coroutine
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed: alertd has exited
            loop.call_soon_threadsafe(settle, result, error)

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return future, thread
