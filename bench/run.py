"""alertd benchmark: the real daemon against the simulator, with figures and a baseline.

    python bench/run.py [--accounts 1000] [--hanging 100] [--interval 10] [--duration 35]

Runs, each as its own process on 127.0.0.1:
  1. the simulator with N accounts (mixed across the five types), and `alertd run` against
     it: polls done, CPU per poll, peak RSS, first full sweep, notification latency;
  2. the same with H of the N accounts hanging: lateness of the healthy providers' polls;
  3. `alertd run` with 5 providers at idle: RSS;
  4. baselines a user might write instead (a fresh httpx client per poll; curl per poll),
     over the same accounts, with the CPU-per-poll ratio.
Prints a table; targets are shown beside the figures, never asserted by a timed test.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from alertd.demo.simulator import fleet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' HTTP stub is the bench's webhook too
from support.http_stub import HttpStub, webhook_stub  # noqa: E402

PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- processes ----------------------------------------------------------------------------------
class Simulator:
    """`python -m alertd.demo.simulator` in its own process, with a config watching its fleet."""

    def __init__(self, accounts: int, interval: int, workdir: Path) -> None:
        self.config = workdir / f"sim-{accounts}.yaml"
        self.proc = subprocess.Popen(
            [
                PY,
                "-m",
                "alertd.demo.simulator",
                "--accounts",
                str(accounts),
                "--port",
                "0",
                "--interval",
                f"{interval}s",
                "--config-out",
                str(self.config),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=workdir,
        )
        assert self.proc.stdout is not None
        line = json.loads(self.proc.stdout.readline())
        self.address = line["listening"]

    def control(self, account: str, **changes: Any) -> None:
        request = urllib.request.Request(
            f"http://{self.address}/_control/{account}",
            data=json.dumps(changes).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5).read()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Daemon:
    """`alertd run` as a user runs it, JSON logs to a file we parse."""

    def __init__(self, config: Path, workdir: Path, name: str) -> None:
        self.log_path = workdir / f"{name}.log"
        self.log = self.log_path.open("w")
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            [PY, "-m", "alertd", "run", "-c", str(config), "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            cwd=workdir,
        )

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def memory_kib(self) -> dict[str, int]:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return {
            line.split(":")[0]: int(line.split()[1])
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


def ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


STORE = {"kind": "memory"}  # --store: where the daemons under test keep history and state


def with_notifier(config: Path, receiver: HttpStub, extra: str = "") -> Path:
    text = config.read_text().replace(
        "defaults:\n",
        "defaults:\n  repeat_interval: 0\n  timeout: 5s\n" + extra,
        1,
    )
    text = f"notifiers:\n  hook: {receiver.apprise_url}\n" + text
    out = config.with_name(config.stem + "-bench.yaml")
    if STORE["kind"] == "sqlite":
        database = out.with_suffix(".db")
        database.unlink(missing_ok=True)
        text = f"store: sqlite://{database}\n" + text
    out.write_text(text)
    return out


def wait_for(predicate: Any, timeout: float, step: float = 0.1) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def polls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("event") in ("poll", "poll_failed")]


@contextlib.contextmanager
def stand(
    n: int,
    interval: int,
    work: Path,
    name: str,
    before_start: Callable[[Simulator], None] | None = None,
) -> Iterator[tuple[Simulator, HttpStub, Daemon]]:
    """Simulator, webhook receiver and daemon for one phase; all three stopped afterwards."""
    sim = Simulator(n, interval, work)
    receiver = webhook_stub().start()
    daemon: Daemon | None = None
    try:
        if before_start is not None:
            before_start(sim)
        daemon = Daemon(with_notifier(sim.config, receiver), work, name)
        yield sim, receiver, daemon
    finally:
        if daemon is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
        receiver.stop()
        sim.stop()


# -- phase 1: scale ---------------------------------------------------------------------------
def scale_run(n: int, interval: int, duration: float, crossings: int, work: Path) -> dict[str, Any]:
    with stand(n, interval, work, f"scale-{n}") as (sim, receiver, daemon):

        def first_sweep_done() -> bool:
            return len({e["provider"] for e in polls(daemon.events())}) >= n

        swept = wait_for(first_sweep_done, 60)
        events = daemon.events()
        started = next(e for e in events if e.get("event") == "started")
        first_polls: dict[str, float] = {}
        for e in polls(events):
            first_polls.setdefault(e["provider"], ts(e))
        sweep_from_start = max(first_polls.values()) - ts(started) if swept else float("nan")
        sweep_from_launch = max(first_polls.values()) - daemon.started_at if swept else float("nan")
        # Steady state: polling only, no notification in flight.
        cpu_start, polls_start = daemon.cpu_seconds(), len(polls(daemon.events()))
        steady_end = time.time() + duration / 2
        wait_for(lambda: time.time() >= steady_end, duration, step=0.5)
        cpu_steady, polls_steady = daemon.cpu_seconds(), len(polls(daemon.events()))

        # Lower `crossings` balances below their warning threshold; the next poll observes it.
        crossed = [f"browser7-{i:04d}" for i in range(0, n, 5)][:crossings]
        for account in crossed:
            sim.control(account, balance="3")
        end = time.time() + duration / 2
        wait_for(lambda: time.time() >= end, duration + 5, step=0.5)
        cpu_end = daemon.cpu_seconds()
        memory = daemon.memory_kib()
        events = daemon.events()
        total_polls = len(polls(events))
        observed: dict[str, float] = {}
        for e in events:
            if e.get("event") == "poll" and e.get("severity") in ("warning", "critical"):
                observed.setdefault(e["provider"], ts(e))
        latencies = []
        for request in receiver.requests:
            provider = request.json()["title"].split("] ", 1)[1].split(":", 1)[0]
            if provider in observed:
                latencies.append((request.wall - observed[provider]) * 1000)
        code = daemon.stop()
        return {
            "n": n,
            "swept": swept,
            "sweep_from_start": sweep_from_start,
            "sweep_from_launch": sweep_from_launch,
            "polls": total_polls,
            "cpu_total": cpu_end,
            "cpu_per_poll_ms": (cpu_steady - cpu_start) / max(polls_steady - polls_start, 1) * 1000,
            "steady_polls": polls_steady - polls_start,
            "cpu_per_poll_all_ms": cpu_end / max(total_polls, 1) * 1000,
            "peak_rss_mib": memory["VmHWM"] / 1024,
            "rss_mib": memory["VmRSS"] / 1024,
            "notifications": len(receiver.requests),
            "crossings": len(crossed),
            "latency_median_ms": statistics.median(latencies) if latencies else float("nan"),
            "latency_p99_ms": _percentile(latencies, 99),
            "exit": code,
        }


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


# -- phase 2: hanging providers ----------------------------------------------------------------
def hanging_run(n: int, hanging: int, interval: int, duration: float, work: Path) -> dict[str, Any]:
    hung = [account.name for account in fleet(n)][:: max(n // hanging, 1)][:hanging]

    def hang(sim: Simulator) -> None:
        for account in hung:
            sim.control(account, hang=True)

    with stand(n, interval, work, f"hang-{n}", before_start=hang) as (_, _, daemon):
        end = time.time() + duration
        wait_for(lambda: time.time() >= end, duration + 5, step=0.5)
        events = polls(daemon.events())
        daemon.stop()
    times: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e["provider"] not in hung and e.get("event") == "poll":
            times[e["provider"]].append(ts(e) - e.get("duration_ms", 0) / 1000)
    lateness = [
        later - earlier - interval
        for starts in times.values()
        for earlier, later in itertools.pairwise(starts)
    ]
    timeouts = sum(1 for e in events if e["provider"] in hung)
    return {
        "healthy_polls": sum(len(v) for v in times.values()),
        "hung_timeouts": timeouts,
        "max_late_s": max(lateness) if lateness else float("nan"),
        "p99_late_s": _percentile(lateness, 99),
        "healthy_providers_polled": len(times),
        "healthy_expected": n - len(hung),
    }


# -- phase 3: idle ------------------------------------------------------------------------------
def idle_run(work: Path, seconds: float = 12) -> dict[str, float]:
    with stand(5, 5, work, "idle-5") as (_, _, daemon):
        wait_for(lambda: False, seconds)
        memory = daemon.memory_kib()
        daemon.stop()
    return {"rss_mib": memory["VmRSS"] / 1024, "peak_rss_mib": memory["VmHWM"] / 1024}


# -- phase 4: baselines -------------------------------------------------------------------------
BASELINE_HTTPX = r"""
import asyncio, json, sys, time, resource, httpx
from decimal import Decimal
targets = json.loads(sys.stdin.read())
async def one(t):
    async with httpx.AsyncClient(timeout=10) as client:  # a fresh client per poll
        r = await client.get(t["url"], headers=t["headers"])
        json.loads(r.content, parse_float=Decimal)
async def main():
    sem = asyncio.Semaphore(50)
    async def guarded(t):
        async with sem:
            await one(t)
    await asyncio.gather(*(guarded(t) for t in targets))
asyncio.run(main())
u = resource.getrusage(resource.RUSAGE_SELF)
print(u.ru_utime + u.ru_stime)
"""


def _targets(n: int, work: Path) -> tuple[Simulator, list[dict[str, Any]]]:
    sim = Simulator(n, 60, work)
    sys.path.insert(0, str(ROOT))
    from alertd.config.loader import load

    settings = load(sim.config)
    targets = [{"url": p.url, "headers": p.request_headers()} for p in settings.providers.values()]
    return sim, targets


def baselines(n: int, work: Path) -> dict[str, float]:
    sim, targets = _targets(n, work)
    results: dict[str, float] = {}
    try:
        startup = subprocess.run(
            [
                PY,
                "-c",
                "import httpx, json, asyncio, decimal; import resource;"
                "u=resource.getrusage(resource.RUSAGE_SELF);"
                "print(u.ru_utime+u.ru_stime)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        base_cpu = float(startup.stdout)
        run = subprocess.run(
            [PY, "-c", BASELINE_HTTPX],
            input=json.dumps(targets),
            capture_output=True,
            text=True,
            check=True,
        )
        results["httpx_fresh_client_ms"] = (float(run.stdout) - base_cpu) / n * 1000
        curl = shutil.which("curl")
        if curl:
            sample = targets[: min(n, 300)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            for t in sample:
                args = [curl, "-s", "-o", "/dev/null", "--max-time", "10"]
                for key, value in t["headers"].items():
                    args += ["-H", f"{key}: {value}"]
                subprocess.run([*args, t["url"]], check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            results["curl_per_poll_ms"] = used / len(sample) * 1000
    finally:
        sim.stop()
    return results


# -- report -------------------------------------------------------------------------------------
def row(name: str, value: str, target: str = "", verdict: bool | None = None) -> str:
    mark = "" if verdict is None else ("met" if verdict else "MISSED")
    return f"| {name} | {value} | {target} | {mark} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--hanging", type=int, default=100)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--duration", type=float, default=35)
    parser.add_argument("--crossings", type=int, default=50)
    parser.add_argument(
        "--store", choices=("memory", "sqlite"), default="memory", help="the daemons' store:"
    )
    args = parser.parse_args()
    STORE["kind"] = args.store
    n = args.accounts
    with tempfile.TemporaryDirectory(prefix="alertd-bench-") as tmp:
        work = Path(tmp)
        print(
            f"scale run: {n} providers, interval {args.interval}s, {args.duration:.0f}s ...",
            file=sys.stderr,
        )
        scale = scale_run(n, args.interval, args.duration, args.crossings, work)
        print(f"hanging run: {args.hanging} of {n} providers hang ...", file=sys.stderr)
        hang = hanging_run(n, args.hanging, args.interval, args.duration, work)
        print("idle run: 5 providers ...", file=sys.stderr)
        idle = idle_run(work)
        print("baselines ...", file=sys.stderr)
        base = baselines(n, work)

    cpu = scale["cpu_per_poll_ms"]
    lines = [
        f"alertd benchmark — {platform.node() or 'host'}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform(terse=True)}",
        "",
        "| figure | value | target | |",
        "|---|---|---|---|",
        row("polls done (scale run)", f"{scale['polls']:,}"),
        row(
            f"CPU per poll, steady state ({scale['steady_polls']:,} polls: fetch, parse, evaluate, "
            "state, log, metrics)",
            f"{cpu:.2f} ms",
            "≤ 1.5 ms",
            cpu <= 1.5,
        ),
        row(
            "CPU per poll, whole run incl. start-up and notifications",
            f"{scale['cpu_per_poll_all_ms']:.2f} ms",
        ),
        row(
            f"peak RSS, {n} providers",
            f"{scale['peak_rss_mib']:.1f} MiB",
            "≤ 120 MB",
            scale["peak_rss_mib"] * 1.048576 <= 120,
        ),
        row(
            f"first full sweep of {n} providers (from scheduler start)",
            f"{scale['sweep_from_start']:.2f} s",
            "≤ 3 s",
            scale["sweep_from_start"] <= 3,
        ),
        row(
            "first full sweep (from process launch, incl. imports and config)",
            f"{scale['sweep_from_launch']:.2f} s",
        ),
        row(
            f"notification latency median ({scale['notifications']} of "
            f"{scale['crossings']} crossings)",
            f"{scale['latency_median_ms']:.1f} ms",
            "< 100 ms",
            scale["latency_median_ms"] < 100,
        ),
        row("notification latency p99", f"{scale['latency_p99_ms']:.1f} ms"),
        row(
            "RSS, 5 providers at idle",
            f"{idle['rss_mib']:.1f} MiB",
            "≤ 75 MB",
            idle["rss_mib"] * 1.048576 <= 75,
        ),
        row(
            f"{args.hanging} hanging: healthy polls, worst lateness",
            f"{hang['max_late_s']:.2f} s ({hang['healthy_polls']:,} polls)",
            f"≤ interval ({args.interval} s)",
            hang["max_late_s"] <= args.interval,
        ),
        row(f"{args.hanging} hanging: healthy polls, p99 lateness", f"{hang['p99_late_s']:.3f} s"),
    ]
    if "httpx_fresh_client_ms" in base:
        b = base["httpx_fresh_client_ms"]
        lines.append(
            row(
                "baseline: fresh httpx client per poll, CPU per poll",
                f"{b:.2f} ms ({b / cpu:.1f}× alertd)",
            )
        )
    if "curl_per_poll_ms" in base:
        c = base["curl_per_poll_ms"]
        lines.append(
            row(
                "baseline: curl process per poll, CPU per poll",
                f"{c:.2f} ms ({c / cpu:.1f}× alertd)",
            )
        )
    lines.append(row("daemon exit status on SIGTERM", str(scale["exit"]), "0", scale["exit"] == 0))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
