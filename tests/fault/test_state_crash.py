"""The state file survives a crash at any point of its write (SPEC §3: "written atomically").

First each step of `StateFile.save` (mkstemp, write, flush, fsync, os.replace, directory
fsync) is made to fail, in two ways: an OSError the daemon lives through (disk full: the
save cleans up after itself) and a death, where nothing after the failing step runs, not
even the cleanup (the temp file stays, as after a SIGKILL). Then a real process saving a
large state in a loop is SIGKILLed at random moments. Every time, the file on disk is the
complete old state or the complete new one and loads as is: never set aside as corrupt.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from support.daemon import wait_until

import alertd.store.statefile
from alertd.core.model import Severity
from alertd.core.state import CheckState, Sent
from alertd.store.statefile import ProviderStates, StateFile

pytestmark = pytest.mark.fault

T0 = datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
LOADED_AT = datetime(2026, 3, 15, 1, 2, 3, tzinfo=UTC)
STEPS = ["mkstemp", "write", "flush", "fsync", "os.replace", "directory fsync"]
BEFORE_REPLACE = STEPS[:5]  # a crash here must leave the old file


def states(generation: int, providers: int = 3) -> ProviderStates:
    at = T0 + timedelta(minutes=generation)
    return {
        f"provider-{index:04d}": {
            "balance": CheckState(
                Severity.WARNING,
                f"generation {generation}: balance below warning threshold",
                at,
                sent={"hook:0123456789ab": Sent(Severity.WARNING, at)},
            ),
            "fetch": CheckState(Severity.OK, "checked successfully", at, failures=generation),
        }
        for index in range(providers)
    }


class Died(BaseException):
    """The process stops right here: no except clause of ours catches it."""


class _FailingHandle:
    """The file object of `os.fdopen`, failing at `write` (half the bytes out) or `flush`."""

    def __init__(self, real: Any, step: str, error: Callable[[], BaseException]) -> None:
        self.real, self.step, self.error = real, step, error

    def __enter__(self) -> _FailingHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def write(self, data: bytes) -> int:
        if self.step == "write":
            self.real.write(data[: len(data) // 2])
            self.real.flush()
            raise self.error()
        return int(self.real.write(data))

    def flush(self) -> None:
        if self.step == "flush":
            raise self.error()
        self.real.flush()

    def fileno(self) -> int:
        return int(self.real.fileno())


class _Fault:
    """The stand-ins for the functions `StateFile.save` calls, failing at `step`; a death also
    stops the cleanup that follows. `fired` gets the step appended each time it fires."""

    def __init__(self, step: str, death: bool) -> None:
        self.step, self.death = step, death
        self.fired: list[str] = []
        self.failure: BaseException = (
            Died(step) if death else OSError(28, "No space left on device")
        )

    def error(self) -> BaseException:
        self.fired.append(self.step)
        return self.failure

    def mkstemp(self, *args: Any, **kwargs: Any) -> tuple[int, str]:
        raise self.error()

    def fdopen(self, fd: int, *args: Any, **kwargs: Any) -> Any:
        return _FailingHandle(os.fdopen(fd, *args, **kwargs), self.step, self.error)

    def fsync(self, fd: int) -> None:
        is_directory = stat.S_ISDIR(os.fstat(fd).st_mode)
        if self.step == ("directory fsync" if is_directory else "fsync"):
            raise self.error()
        os.fsync(fd)

    def replace(self, *args: Any) -> None:
        raise self.error()

    def unlink(self, path: Any) -> None:
        if self.death:
            raise Died("already dead: the cleanup never runs")
        os.unlink(path)

    def os_overrides(self) -> dict[str, Any]:
        """The functions of `os` replaced for this step: unlink always, plus the failing one."""
        overrides: dict[str, Any] = {"unlink": self.unlink}
        if self.step in ("write", "flush"):
            overrides["fdopen"] = self.fdopen
        if self.step in ("fsync", "directory fsync"):
            overrides["fsync"] = self.fsync
        if self.step == "os.replace":
            overrides["replace"] = self.replace
        return overrides


def fail_at(monkeypatch: pytest.MonkeyPatch, step: str, death: bool) -> list[str]:
    """Makes `step` of StateFile.save fail; a death also stops the cleanup that follows.
    Returns the list the failing step appends itself to when it fires."""
    fault = _Fault(step, death)
    monkeypatch.setattr(alertd.store.statefile, "os", _Module(os, fault.os_overrides()))
    if step == "mkstemp":
        monkeypatch.setattr(
            alertd.store.statefile, "tempfile", _Module(tempfile, {"mkstemp": fault.mkstemp})
        )
    return fault.fired


class _Module:
    """A module as the store sees it, with some functions replaced (the real one untouched)."""

    def __init__(self, real: Any, overrides: dict[str, Any]) -> None:
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def strays(directory: Path, name: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != name)


@pytest.mark.parametrize("had_old", [True, False], ids=["over-old-file", "first-save"])
@pytest.mark.parametrize("death", [False, True], ids=["oserror", "death"])
@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_leaves_old_or_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, death: bool, had_old: bool
) -> None:
    path = tmp_path / "alertd.state.json"
    store = StateFile(path)
    old, new = states(1), states(2)
    if had_old:
        store.save(old, T0)

    with monkeypatch.context() as patched:
        fired = fail_at(patched, step, death)
        raised: BaseException | None = None
        try:
            store.save(new, T0 + timedelta(minutes=1))
        except (OSError, Died) as exc:
            raised = exc
    # Only a directory fsync OSError is swallowed (the file is already in place).
    swallowed = step == "directory fsync" and not death
    assert (raised is None) == swallowed, raised
    assert fired == [step]

    loaded, problem = store.load(LOADED_AT)
    assert problem is None
    if step in BEFORE_REPLACE:
        assert loaded == (old if had_old else {})
    else:
        assert loaded == new
    assert not [n for n in strays(tmp_path, path.name) if ".corrupt-" in n]
    leftovers = strays(tmp_path, path.name)
    if not death:
        assert leftovers == []  # a failed save it lived through cleans up its temp file
    else:
        assert all(n.startswith(f".{path.name}.") and n.endswith(".tmp") for n in leftovers)

    # The stray temp file of a dead writer gets in no one's way: the next save and load work.
    store.save(states(3), T0 + timedelta(minutes=2))
    assert store.load(LOADED_AT) == (states(3), None)
    assert strays(tmp_path, path.name) == leftovers


# -- a real process, really killed ------------------------------------------------------------

WRITER = """
import itertools, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from alertd.core.model import Severity
from alertd.core.state import CheckState, Sent
from alertd.store.statefile import StateFile

path, start, PROVIDERS = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store = StateFile(path)
T0 = datetime(2026, 3, 14, tzinfo=UTC)
print("ready", flush=True)
for generation in itertools.count(start):
    at = T0 + timedelta(seconds=generation)
    detail = f"generation {generation} " + "x" * 8000  # long texts: writing is the slow part
    checks = {
        "balance": CheckState(
            Severity.WARNING, detail, at, sent={"hook:0123456789ab": Sent(Severity.WARNING, at)}
        ),
        "fetch": CheckState(Severity.OK, detail, at, failures=generation),
    }
    states = {f"provider-{i:04d}": checks for i in range(PROVIDERS)}
    store.save(states, at)
"""


PROVIDERS = 500  # x 2 checks x 8 kB: a 8 MB file


def generation_of(loaded: ProviderStates) -> int:
    """The one generation every entry of a whole file carries; a mix fails here."""
    generations = {
        int(state.detail.split()[1]) for checks in loaded.values() for state in checks.values()
    }
    assert len(generations) == 1, f"a mix of generations: {sorted(generations)[:10]}"
    assert len(loaded) == PROVIDERS
    return generations.pop()


def test_sigkill_at_random_moments_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "alertd.state.json"
    store = StateFile(path)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    generation = 0
    size = 0

    def run(start: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(start), str(PROVIDERS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def temp_files() -> set[str]:
        return {name for name in os.listdir(tmp_path) if name.endswith(".tmp")}

    def new_temp_files(before: set[str]) -> set[str]:
        return temp_files() - before

    landed = 0
    for iteration in range(10):
        before = temp_files()
        writer = run(generation + 1)
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"ready\n", writer.stderr.read() if writer.stderr else ""
        if iteration == 0:  # a first complete file, so that every kill has an old one to keep
            wait_until(path.exists, 30, "the first save")
        if iteration % 2:
            # Aimed at the write itself: as soon as a new temp file appears, or a moment later.
            wait_until(partial(new_temp_files, before), 30, "a save to begin", 0.0005)
            time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.005)]))
        else:
            time.sleep(rng.uniform(0.0, 0.4))  # anywhere: building, encoding, writing
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        assert writer.returncode == -signal.SIGKILL, writer.stderr.read() if writer.stderr else ""
        writer.stdout.close()
        if writer.stderr is not None:
            writer.stderr.close()
        leftovers = new_temp_files(before)
        landed += bool(leftovers)

        loaded, problem = store.load(LOADED_AT)
        assert problem is None, f"seed {seed}, kill {iteration}: {problem}"
        current = generation_of(loaded)
        assert current >= generation, f"seed {seed}: went back from {generation} to {current}"
        generation = current
        size = max(size, path.stat().st_size)
        assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
        assert not temp_files() & leftovers, "load() leaves a crashed save's temp file behind"

    assert size > 8_000_000  # a large state: each write takes a while to be killed in
    print(f"seed {seed}: {landed} of 10 kills landed inside a save")
    assert landed, "no kill landed between mkstemp and os.replace"
    assert generation > 0
