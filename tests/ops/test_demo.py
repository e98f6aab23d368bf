"""`alertd demo` (SPEC §4): the whole alert cycle in the terminal, with no keys, then exit 0.

Both runs (terminal only, and terminal plus `--webhook`) are started together once for the
module, so the two ~13 s demos cost the time of one.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.http_stub import HttpStub, webhook_stub

pytestmark = pytest.mark.e2e

SPEED = "4"
DEADLINE = 40.0  # the demo takes FINISH / speed = 12.5 s; the brief allows ~30 s
TITLE = re.compile(r"^>>> (\[[A-Z]+\] .*)$", re.MULTILINE)


@dataclass
class DemoRun:
    code: int
    seconds: float
    stdout: str
    stderr: str

    @property
    def titles(self) -> list[str]:
        return TITLE.findall(self.stdout)

    def explain(self) -> str:
        head = f"exit {self.code} after {self.seconds:.1f}s"
        return f"{head}\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@dataclass
class Demos:
    plain: DemoRun
    with_webhook: DemoRun
    receiver: HttpStub


def _start(args: list[str], workdir: Path, name: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = workdir / f"{name}.stdout", workdir / f"{name}.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "alertd", "demo", "--speed", SPEED, *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=workdir,
        )
    return proc, out, err


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demos]:
    workdir = tmp_path_factory.mktemp("demo")
    with webhook_stub() as receiver:
        started = time.monotonic()
        procs = {
            "plain": _start([], workdir, "plain"),
            "webhook": _start(["--webhook", receiver.apprise_url], workdir, "webhook"),
        }
        runs: dict[str, DemoRun] = {}
        try:
            for name, (proc, out, err) in procs.items():
                left = max(1.0, DEADLINE - (time.monotonic() - started))
                try:
                    code = proc.wait(timeout=left)
                except subprocess.TimeoutExpired:
                    code = -1  # reported by the tests below, with the output so far
                runs[name] = DemoRun(
                    code,
                    time.monotonic() - started,
                    out.read_text(errors="replace"),
                    err.read_text(errors="replace"),
                )
        finally:
            for proc, _, _ in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        yield Demos(runs["plain"], runs["webhook"], receiver)


def test_demo_runs_to_completion_with_exit_0(demos: Demos) -> None:
    for run in (demos.plain, demos.with_webhook):
        assert run.code == 0, run.explain()
        assert run.seconds < DEADLINE, run.explain()
        assert "--- demo finished" in run.stdout, run.explain()


def test_demo_shows_every_kind_of_notification(demos: Demos) -> None:
    run = demos.plain
    titles = run.titles
    assert any(t.startswith("[WARNING]") and "below warning threshold" in t for t in titles), (
        run.explain()
    )
    assert any(t.startswith("[CRITICAL]") for t in titles), run.explain()
    assert any("still below" in t for t in titles), f"no reminder:\n{run.explain()}"
    assert any("cannot check" in t for t in titles), run.explain()
    assert any(t.startswith("[RESOLVED]") for t in titles), run.explain()
    # each block carries its body: the balance and when it was checked
    assert "Balance: $" in run.stdout, run.explain()
    assert "Checked at: " in run.stdout, run.explain()


def test_demo_warns_of_the_runway_before_the_balance_and_shows_a_spend_spike(
    demos: Demos,
) -> None:
    run = demos.plain
    titles = [t for t in run.titles if t.startswith("[WARNING] render-farm:")]
    runway = [i for i, t in enumerate(titles) if "within the warning runway" in t]
    balance = [i for i, t in enumerate(titles) if "below warning threshold" in t]
    assert runway, run.explain()
    assert balance, run.explain()
    assert runway[0] < balance[0], run.explain()
    assert "Runs out: in ~" in run.stdout, run.explain()
    assert any(t.startswith("[WARNING] subtitles: spending spiked to") for t in run.titles), (
        run.explain()
    )
    assert "[RESOLVED] render-farm: runway back to normal" in run.titles, run.explain()
    # a top-up is a bigger plan, not "consumed -6,000" over a balance above capacity
    assert "consumed -" not in run.stdout, run.explain()


def test_demo_sends_the_same_notifications_to_the_webhook(demos: Demos) -> None:
    run, receiver = demos.with_webhook, demos.receiver
    assert run.code == 0, run.explain()
    received = receiver.messages
    assert Counter(m["title"] for m in received) == Counter(run.titles), run.explain()
    assert {m["type"] for m in received} >= {"warning", "failure", "success"}
    expected_type = {"WARNING": "warning", "CRITICAL": "failure", "RESOLVED": "success"}
    for message in received:
        tag = message["title"][1:].split("]")[0]
        assert message["type"] == expected_type[tag], message
        assert message["message"], message


def test_demo_exits_without_tracebacks(demos: Demos) -> None:
    assert "Traceback" not in demos.plain.stderr, demos.plain.stderr
    assert "error" not in demos.plain.stderr.lower(), demos.plain.stderr
