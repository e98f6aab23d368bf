"""The `alertd` command line (SPEC §4): parses arguments, returns exit codes, nothing else."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from alertd import __version__
from alertd.cli.check_table import Row, Status, as_json, as_table, overall, row
from alertd.config.loader import Settings, load
from alertd.config.model import ProviderConfig
from alertd.config.rules import rules_of
from alertd.config.types import format_duration
from alertd.core.burn import replay
from alertd.core.series import Sample
from alertd.core.step import ProviderState, step
from alertd.errors import ConfigError
from alertd.http import make_client
from alertd.observability import logging as logs
from alertd.store.base import StoreError


def utcnow() -> datetime:
    return datetime.now(UTC)


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name. The command's own copy
    has no defaults, so that `alertd -c PATH check` keeps the PATH given before `check`."""
    common = argparse.ArgumentParser(add_help=False)
    unset = argparse.SUPPRESS
    common.add_argument(
        "-c",
        "--config",
        metavar="PATH",
        default=None if defaults else unset,
        help="config file (default: $ALERTD_CONFIG, ./config.yaml, /etc/alertd/config.yaml)",
    )
    common.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=None if defaults else unset,
        help="default: console on a terminal, JSON lines otherwise",
    )
    common.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info" if defaults else unset,
    )
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="alertd",
        description="Watches prepaid API balances and alerts before one runs dry.",
        parents=[_common_options(defaults=True)],
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
    providers = sub.add_parser(
        "providers",
        parents=[common],
        help="list every built-in provider type and preset with its documentation link",
    )
    providers.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sub.add_parser("run", parents=[common], help="run the daemon (stops cleanly on SIGTERM/SIGINT)")
    notify_test = sub.add_parser(
        "notify-test", parents=[common], help="send a test message through each notifier"
    )
    notify_test.add_argument("names", nargs="*", metavar="NAME", help="only these notifiers")
    demo = sub.add_parser(
        "demo", parents=[common], help="the daemon against built-in simulated providers"
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="run the one-minute scenario this many times faster (default 1)",
    )
    demo.add_argument(
        "--webhook",
        metavar="URL",
        help="also send notifications to this Apprise URL (e.g. json://127.0.0.1:8099)",
    )
    return parser


def _load(args: argparse.Namespace) -> Settings:
    settings = load(args.config)
    logs.REDACTOR.update(settings.secrets())
    return settings


def cmd_validate(args: argparse.Namespace) -> int:
    settings = _load(args)
    from alertd.notify.urls import display_form

    config = settings.config
    print(
        f"{settings.path}: valid, {len(config.providers)} provider(s), "
        f"{len(config.notifiers)} notifier(s)"
    )
    for warning in settings.warnings:
        print(warning, file=sys.stderr)
    for name, p in config.providers.items():
        notify = ", ".join(p.notify) if p.notify is not None else "all notifiers"
        print(
            f"  provider {name}: {p.type}, every {format_duration(p.interval)}, "
            f"warning {p.warning or '-'}, critical {p.critical or '-'}{_runway(p)}, "
            f"notify {notify}"
        )
    for name, n in config.notifiers.items():
        urls = ", ".join(display_form(u) for u in n.urls)
        print(f"  notifier {name}: {urls} (min severity {n.min_severity})")
    return 0


def _runway(p: ProviderConfig) -> str:
    if p.runway_warning is None and p.runway_critical is None:
        return ""
    levels = [format_duration(v) if v else "-" for v in (p.runway_warning, p.runway_critical)]
    return f", runway {'/'.join(levels)} over {format_duration(p.burn_window)}"


async def _check(
    settings: Settings,
    now: Callable[[], datetime],
    history: Mapping[str, list[Sample]] | None = None,
) -> list[Row]:
    """One poll of every provider through the real step; `history` (the store's samples)
    gives the burn tracker its past, so the RUNWAY column has a forecast."""
    history = history or {}
    async with make_client() as client:
        results = await asyncio.gather(
            *(provider.poll(client, now) for provider in settings.providers.values())
        )
    rows = []
    for name, result in zip(settings.providers, results, strict=True):
        cfg = settings.config.providers[name]
        rules = rules_of(settings.config, name)
        state = ProviderState(burn=replay(history.get(name, []), rules.forecasting.burn_window))
        if result.reading is None:
            rows.append(row(name, cfg.type, result, None))
            continue
        after = step(name, state, result, rules, result.checked_at).state
        rows.append(row(name, cfg.type, result, after.findings, after.forecast))
    return rows


def cmd_check(args: argparse.Namespace) -> int:
    settings = _load(args)
    rows = asyncio.run(_check(settings, utcnow))
    if args.json:
        print(json.dumps(as_json(rows), indent=2))
    else:
        print(as_table(rows))
    return int(overall(rows))


def cmd_run(args: argparse.Namespace) -> int:
    settings = _load(args)
    from alertd.daemon import Daemon

    for warning in settings.warnings:
        logs.get_logger().warning("config_warning", warning=warning)

    return asyncio.run(Daemon(settings, config_arg=args.config).run())


async def _notify_test(settings: Settings, names: list[str]) -> list[tuple[str, int, bool]]:
    from alertd.core.render import probe_message
    from alertd.notify.dispatch import Dispatcher

    dispatcher = Dispatcher(settings.config.notifiers)
    jobs = [(name, index) for name in names for index in dispatcher.urls_of(name)]
    sent = await asyncio.gather(
        *(dispatcher.send_once(n, i, probe_message(n, utcnow())) for n, i in jobs)
    )
    return [(n, i, ok) for (n, i), ok in zip(jobs, sent, strict=True)]


def cmd_notify_test(args: argparse.Namespace) -> int:
    settings = _load(args)
    from alertd.notify.urls import display_form

    notifiers = settings.config.notifiers
    unknown = [n for n in args.names if n not in notifiers]
    if unknown:
        print(
            f"unknown notifier(s): {', '.join(unknown)}; known: {', '.join(notifiers) or 'none'}",
            file=sys.stderr,
        )
        return 1
    names = args.names or list(notifiers)
    if not names:
        print(f"{settings.path}: no notifiers configured", file=sys.stderr)
        return 1
    results = asyncio.run(_notify_test(settings, names))
    for name, index, ok in results:
        url = display_form(notifiers[name].urls[index])
        print(f"{name}: {'delivered' if ok else 'FAILED'} ({url})")
    return 0 if all(ok for _, _, ok in results) else 1


def cmd_providers(args: argparse.Namespace) -> int:
    """Needs no config: what a user can put in `type:`, and where to read about each."""
    from alertd.cli.providers_table import as_json, as_table, type_rows
    from alertd.providers import PRESET_PROBLEMS

    rows = type_rows()
    print(json.dumps(as_json(rows), indent=2) if args.json else as_table(rows))
    for problem in PRESET_PROBLEMS:
        print(problem, file=sys.stderr)
    return 1 if PRESET_PROBLEMS else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from alertd.demo.scenario import run_demo

    if not 0.1 <= args.speed <= 20:
        print("--speed must be between 0.1 and 20", file=sys.stderr)
        return 2
    return run_demo(args.speed, args.webhook)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": cmd_check,
    "validate": cmd_validate,
    "run": cmd_run,
    "notify-test": cmd_notify_test,
    "providers": cmd_providers,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure(args.log_format, args.log_level)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:  # every command loads the config; one place reports it
        print(exc, file=sys.stderr)
        if args.command == "check" and args.json:  # a monitoring system parses stdout
            print(json.dumps({"status": Status.UNKNOWN.name, "errors": exc.problems}, indent=2))
        return int(Status.UNKNOWN) if args.command == "check" else 1
    except StoreError as exc:  # `run` cannot use its store: one line, no traceback
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:  # the last net: one line, redacted, never a traceback
        logs.get_logger().error("internal_error", error=type(exc).__name__, exc_info=exc)
        print(f"alertd: internal error: {logs.REDACTOR.text(str(exc))}", file=sys.stderr)
        return 70
