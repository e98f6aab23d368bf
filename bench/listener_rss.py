"""What the HTTP listener costs in memory: RSS of `alertd run` with 5 providers, without a
listener, with one, and with one that served a round of requests to every endpoint.

    python bench/listener_rss.py [--runs 3] [--settle 8] [--requests 200]

Each variant is its own `alertd run` process against the simulator, measured `--settle`
seconds after its first polls; the median of `--runs` is shown. Used to compare HTTP server
libraries (issue 11: the hand-written server against aiohttp); the figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from run import Daemon, Simulator, stand, wait_for

ENDPOINTS = ("/healthz", "/livez", "/metrics", "/", "/api/v1/status", "/badge/missing.svg")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_listener(config: Path, port: int) -> Path:
    out = config.with_name(config.stem + f"-listen-{port}.yaml")
    out.write_text(config.read_text() + f"http:\n  listen: 127.0.0.1:{port}\n")
    return out


def _hit(port: int, requests: int) -> dict[str, int]:
    """`requests` GETs spread over the endpoints; the count of each status seen."""
    statuses: dict[str, int] = {}
    for index in range(requests):
        path = ENDPOINTS[index % len(ENDPOINTS)]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                r.read()
                status = r.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return statuses


def _first_polls(daemon: Daemon, providers: int) -> bool:
    return len({e["provider"] for e in daemon.events() if e.get("event") == "poll"}) >= providers


def measure(work: Path, variant: str, settle: float, requests: int) -> float:
    """VmRSS in MiB of one daemon of `variant` ("off", "idle", "served")."""
    with stand(5, 5, work, f"rss-{variant}") as (sim, _, daemon):
        if variant != "off":  # restart the same stand's daemon with a listener
            daemon.proc.kill()
            daemon.proc.wait()
            port = _free_port()
            daemon = Daemon(_with_listener(daemon_config(sim), port), work, f"rss-{variant}-l")
        try:
            if not wait_for(lambda: _first_polls(daemon, 5), 30):
                raise SystemExit(f"{variant}: no first polls:\n{daemon.log_path.read_text()}")
            if variant == "served":
                seen = _hit(port, requests)
                print(f"  served: {seen}", file=sys.stderr)
            time.sleep(settle)
            return daemon.memory_kib()["VmRSS"] / 1024
        finally:
            daemon.stop()


def daemon_config(sim: Simulator) -> Path:
    """The bench config (with its webhook notifier) written for this simulator."""
    return sim.config.with_name(sim.config.stem + "-bench.yaml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=8)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"off": [], "idle": [], "served": []}
    with tempfile.TemporaryDirectory(prefix="alertd-rss-") as tmp:
        for run in range(args.runs):
            for variant in figures:
                print(f"run {run + 1}/{args.runs}: listener {variant} ...", file=sys.stderr)
                figures[variant].append(measure(Path(tmp), variant, args.settle, args.requests))
    median = {k: statistics.median(v) for k, v in figures.items()}
    print(f"| alertd run, 5 providers | RSS (median of {args.runs}) |")
    print("|---|---|")
    print(f"| no listener | {median['off']:.1f} MiB |")
    print(f"| listener, idle | {median['idle']:.1f} MiB (+{median['idle'] - median['off']:.1f}) |")
    print(
        f"| listener, after {args.requests} requests | {median['served']:.1f} MiB "
        f"(+{median['served'] - median['off']:.1f}) |"
    )
    print(json.dumps({k: [round(x, 1) for x in v] for k, v in figures.items()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
