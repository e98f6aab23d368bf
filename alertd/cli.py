"""The `alertd` command line (SPEC §4): parses arguments, returns exit codes, nothing else."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from alertd import __version__
from alertd.errors import ConfigError
from alertd.evaluate import evaluate
from alertd.http import make_client
from alertd.loader import Settings, load
from alertd.observability import logging as logs
from alertd.poll import poll
from alertd.report import Status, as_json, as_table, overall, row


def utcnow() -> datetime:
    return datetime.now(UTC)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        help="config file (default: $ALERTD_CONFIG, ./config.yaml, /etc/alertd/config.yaml)",
    )
    common.add_argument(
        "--log-format",
        choices=("json", "console"),
        help="default: console on a terminal, JSON lines otherwise",
    )
    common.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser = argparse.ArgumentParser(
        prog="alertd",
        description="Watches prepaid API balances and alerts before one runs dry.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"alertd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = sub.add_parser(
        "check",
        parents=[common],
        help="poll every provider once and print a table (Nagios exit codes)",
    )
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub.add_parser("validate", parents=[common], help="check the config and report every problem")
    return parser


def _load(args: argparse.Namespace) -> Settings:
    settings = load(args.config)
    logs.REDACTOR.update(settings.secrets())
    return settings


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        settings = _load(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    from alertd.notify_urls import privacy_form

    config = settings.config
    print(
        f"{settings.path}: valid, {len(config.providers)} provider(s), "
        f"{len(config.notifiers)} notifier(s)"
    )
    for name, p in config.providers.items():
        notify = ", ".join(p.notify) if p.notify is not None else "all notifiers"
        print(
            f"  provider {name}: {p.type}, every {_fmt(p.interval)}, "
            f"warning {p.warning or '-'}, critical {p.critical or '-'}, notify {notify}"
        )
    for name, n in config.notifiers.items():
        urls = ", ".join(privacy_form(u) for u in n.urls)
        print(f"  notifier {name}: {urls} (min severity {n.min_severity})")
    return 0


def _fmt(delta: object) -> str:
    from alertd.config_types import format_duration

    return format_duration(delta)  # type: ignore[arg-type]


async def _check(settings: Settings, now: Callable[[], datetime]) -> list:  # type: ignore[type-arg]
    async with make_client() as client:
        results = await asyncio.gather(
            *(poll(provider, client, now) for provider in settings.providers.values())
        )
    rows = []
    for result in results:
        cfg = settings.config.providers[result.provider]
        findings = evaluate(result.reading, cfg) if result.reading else None
        rows.append(row(cfg.type, result, findings))
    return rows


def cmd_check(args: argparse.Namespace) -> int:
    try:
        settings = _load(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return int(Status.UNKNOWN)
    rows = asyncio.run(_check(settings, utcnow))
    if args.json:
        print(json.dumps(as_json(rows), indent=2))
    else:
        print(as_table(rows))
    return int(overall(rows))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": cmd_check,
    "validate": cmd_validate,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_format, args.log_level)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
