"""Reads the config file into a validated `Settings`, or raises ConfigError with every problem.

Each problem is one line naming the file, the provider or notifier, the key and what is
wrong. No line ever quotes a secret: pydantic errors are read without their inputs, YAML
errors without their source snippets, Apprise URLs are shown by scheme only.

Every file is read through `alertd.files.read_regular` (regular files only, never blocking,
size-capped) and the YAML through `alertd.config.safe_yaml` (duplicate keys refused, aliases
bounded), so that loading always ends, quickly, whatever the file.

Warnings are for a config that is valid but alerts nobody (no notifier, no threshold):
`validate` prints them and exits 0, the daemon logs them at start and at each reload.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from alertd.config.interpolate import interpolate
from alertd.config.messages import describe, shown_input
from alertd.config.model import (
    AlertdConfig,
    NotifierConfig,
    ProviderConfig,
    RawLayers,
    header_name_problem,
)
from alertd.config.safe_yaml import YamlProblem, parse
from alertd.errors import ConfigError
from alertd.files import UnreadableFile, read_regular
from alertd.providers import PRESET_PROBLEMS, Provider, build
from alertd.text import printable

DEFAULT_PATHS = (Path("config.yaml"), Path("/etc/alertd/config.yaml"))
MAX_CONFIG_BYTES = 1 << 20  # a thousand providers take about 150 KiB
MAX_SECRET_BYTES = 64 << 10
ENV_PREFIX = "ALERTD_"


@dataclass(frozen=True)
class Settings:
    """A loaded, checked configuration and the provider adapters it describes."""

    path: Path
    config: AlertdConfig
    providers: Mapping[str, Provider]
    warnings: tuple[str, ...] = ()

    def secrets(self) -> list[str]:
        """Every secret value in the config, for the log redaction processor: what each
        provider sends (keys, headers, Basic credentials) and the notifier URLs."""
        values = [secret for provider in self.providers.values() for secret in provider.secrets()]
        for notifier in self.config.notifiers.values():
            values.extend(url.get_secret_value() for url in notifier.urls)
        store = self.config.store_url()
        if store is not None and "@" in store:  # a database URL with credentials
            values.append(store)
        return [value for value in values if value]


def find_config(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """`-c PATH`, else `$ALERTD_CONFIG`, else ./config.yaml, else /etc/alertd/config.yaml."""
    if explicit:
        return Path(explicit)
    if environ.get("ALERTD_CONFIG"):
        return Path(environ["ALERTD_CONFIG"])
    for candidate in DEFAULT_PATHS:
        if candidate.exists():
            return candidate
    searched = ", ".join(str(p) for p in DEFAULT_PATHS)
    raise ConfigError(
        [f"no config file: give -c PATH or set ALERTD_CONFIG (looked for {searched})"]
    )


def load(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """Reads `os.environ` for interpolation and overrides, as pydantic-settings does."""
    if PRESET_PROBLEMS:  # the installation itself is broken: no config could be trusted
        raise ConfigError(PRESET_PROBLEMS)
    environ = os.environ
    path = find_config(explicit, environ)
    raw, duplicates = _read_yaml(path)
    unset: list[tuple[tuple[str | int, ...], str]] = []
    data = interpolate(raw, environ, unset)
    problems = [f"{path}: {line}" for line in duplicates]
    problems.extend(f"{path}: {_located(loc, message)}" for loc, message in unset)
    overrides = _env_overrides(environ)
    try:
        config = AlertdConfig(**data)
    except SettingsError as exc:  # an ALERTD_* variable that is not valid JSON for its field
        raise ConfigError([f"{path}: environment overrides (ALERTD_*): {exc}"]) from None
    except ValidationError as exc:
        problems.extend(f"{path}: {line}" for line in _describe(exc, data, overrides))
        problems.extend(f"{path}: {line}" for line in _check_valid_parts(data, exc, overrides))
        raise ConfigError(list(dict.fromkeys(problems))) from None
    config, providers, semantic = _check(config, overrides)
    problems.extend(f"{path}: {line}" for line in semantic)
    if problems:
        raise ConfigError(problems)
    warnings = tuple(f"{path}: {line}" for line in _warnings(config, providers))
    return Settings(path=path, config=config, providers=providers, warnings=warnings)


def _warnings(config: AlertdConfig, providers: Mapping[str, Provider]) -> list[str]:
    """A valid config that still alerts nobody about something, or polls a provider faster
    than it allows: said, not refused."""
    lines = []
    if not config.notifiers:
        lines.append(
            "warning: no notifiers configured: alerts are only written to the log, nobody is"
            " notified"
        )
    for name, cfg in config.providers.items():
        if cfg.warning is None and cfg.critical is None:
            lines.append(
                f"warning: provider '{name}': no warning or critical threshold: its balance"
                " never raises an alert (only a failure to check it does)"
            )
        lines.extend(
            f"warning: provider '{name}': {line}" for line in providers[name].config_warnings()
        )
        if cfg.notify == [] and config.notifiers:
            lines.append(
                f"warning: provider '{name}': notify is an empty list: its alerts go to no notifier"
            )
    return lines


def _env_overrides(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """`ALERTD_PROVIDERS__X__API_KEY` -> {("providers", "x", "api_key"): that name}."""
    return {
        tuple(key[len(ENV_PREFIX) :].lower().split("__")): key
        for key in environ
        if key.upper().startswith(ENV_PREFIX) and key.upper() != "ALERTD_CONFIG"
    }


def _from_env(loc: tuple[int | str, ...], overrides: Mapping[tuple[str, ...], str]) -> str:
    """` (set by ALERTD_...)` when an environment variable supplied the value at `loc`."""
    parts = tuple(str(p) for p in loc if p != "[key]")
    for path, name in overrides.items():
        if parts[: len(path)] == path:
            return f" (set by environment variable {name})"
    return ""


def _check_valid_parts(
    data: dict[str, Any], exc: ValidationError, overrides: Mapping[tuple[str, ...], str]
) -> list[str]:
    """The registry, file and Apprise checks of each provider and notifier that did validate,
    so that one broken provider does not hide the problems of the others."""
    try:
        layers = RawLayers(**data)
    except ValidationError:
        return []
    failed = {tuple(e["loc"][:2]) for e in exc.errors(include_input=False, include_url=False)}
    known_notifiers = {n: None for n in layers.notifiers}
    problems: list[str] = []
    for name, body in layers.providers.items():
        if ("providers", name) in failed:
            continue
        try:
            cfg = ProviderConfig.model_validate(body)
        except ValidationError:
            continue
        _, lines = _check_provider(name, cfg, known_notifiers)
        problems.extend(_provider_line(name, line, overrides) for line in lines)
    for name, body in layers.notifiers.items():
        if ("notifiers", name) in failed:
            continue
        try:
            notifier = NotifierConfig.model_validate(body)
        except ValidationError:
            continue
        problems.extend(f"notifier '{name}': {line}" for line in _check_notifier(notifier))
    return problems


def _read_yaml(path: Path) -> tuple[dict[str, Any], list[str]]:
    try:
        text = read_regular(path, MAX_CONFIG_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except UnreadableFile as exc:
        raise ConfigError([f"{path}: cannot read config file: {exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: cannot read config file: not UTF-8 text"]) from None
    try:
        data, duplicates = parse(text)
    except YamlProblem as exc:
        raise ConfigError([f"{path}: {line}" for line in exc.problems]) from None
    if data is None:
        return {}, duplicates
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys"])
    return data, duplicates


def _where(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """('providers', 'x', 'warning') -> ("provider 'x'", "warning")."""
    sections = {"providers": "provider", "notifiers": "notifier"}
    if len(loc) >= 2 and loc[0] in sections:
        owner = f"{sections[str(loc[0])]} '{loc[1]}'"
        rest = loc[2:]
    else:
        owner, rest = str(loc[0]) if loc else "config", loc[1:]
    key = ""
    for part in rest:
        if part == "[key]":
            continue
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return owner, key


def _describe(
    exc: ValidationError, data: Mapping[str, Any], overrides: Mapping[tuple[str, ...], str]
) -> list[str]:
    lines: list[str] = []
    default_keys = set(
        (data.get("defaults") or {}) if isinstance(data.get("defaults"), dict) else {}
    )
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        _, key = _where(loc)
        if _inherited_from_defaults(loc, key, data, default_keys):
            continue  # already reported once under `defaults`
        message = describe(error["type"], error["msg"], loc, shown_input(loc, data))
        lines.append(_located(loc, message) + _from_env(loc, overrides))
    return list(dict.fromkeys(lines))


def _located(loc: tuple[int | str, ...], message: str) -> str:
    owner, key = _where(loc)
    return f"{owner}: {key}: {message}" if key else f"{owner}: {message}"


def _inherited_from_defaults(
    loc: tuple[int | str, ...], key: str, data: Mapping[str, Any], default_keys: set[str]
) -> bool:
    if len(loc) < 3 or loc[0] != "providers" or not key:
        return False
    top_key = key.split(".")[0].split("[")[0]
    body = (data.get("providers") or {}).get(loc[1])
    return top_key in default_keys and isinstance(body, dict) and top_key not in body


def _provider_line(name: str, line: str, overrides: Mapping[tuple[str, ...], str]) -> str:
    key = line.partition(":")[0].partition("[")[0].partition(".")[0]
    return f"provider '{name}': {line}" + _from_env(("providers", name, key), overrides)


def _check(
    config: AlertdConfig, overrides: Mapping[tuple[str, ...], str]
) -> tuple[AlertdConfig, dict[str, Provider], list[str]]:
    """Rules that need the provider registry, the file system or Apprise."""
    problems: list[str] = []
    if not config.providers:
        problems.append("providers: no providers configured")
    resolved: dict[str, ProviderConfig] = {}
    providers: dict[str, Provider] = {}
    for name, provider_config in config.providers.items():
        provider_config, lines = _check_provider(name, provider_config, config.notifiers)
        problems.extend(_provider_line(name, line, overrides) for line in lines)
        resolved[name] = provider_config
        providers[name] = build(name, provider_config)
    for name, notifier in config.notifiers.items():
        problems.extend(f"notifier '{name}': {line}" for line in _check_notifier(notifier))
    if config.defaults.notify:
        problems.extend(
            f"defaults: notify: unknown notifier '{n}'"
            for n in config.defaults.notify
            if n not in config.notifiers
        )
    return config.model_copy(update={"providers": resolved}), providers, problems


def _check_provider(
    name: str, cfg: ProviderConfig, notifiers: Mapping[str, object]
) -> tuple[ProviderConfig, list[str]]:
    problems: list[str] = []
    if build(name, cfg).needs_key():
        cfg, key_problems = _resolve_api_key(cfg)
        problems.extend(key_problems)
    for header, value in cfg.headers.items():
        problem = _header_problem(header, value.get_secret_value())
        if problem:
            problems.append(f"headers.{printable(header, 60)}: {problem}")
    problems.extend(build(name, cfg).config_problems())
    problems.extend(
        f"notify: unknown notifier '{notifier}'"
        for notifier in _unknown(cfg.notify or (), notifiers)
    )
    return cfg, problems


def _unknown(names: Iterable[str], known: Mapping[str, object]) -> list[str]:
    return [n for n in names if n not in known]


def _resolve_api_key(cfg: ProviderConfig) -> tuple[ProviderConfig, list[str]]:
    if cfg.api_key is not None and cfg.api_key_file is not None:
        return cfg, ["api_key and api_key_file are both set; keep one"]
    if cfg.api_key_file is not None:
        try:
            text = read_regular(cfg.api_key_file, MAX_SECRET_BYTES).decode("utf-8").strip()
        except FileNotFoundError as exc:
            return cfg, [f"api_key_file: cannot read {cfg.api_key_file}: {exc.strerror}"]
        except UnreadableFile as exc:
            return cfg, [f"api_key_file: cannot read {cfg.api_key_file}: {exc}"]
        except UnicodeDecodeError:
            return cfg, [f"api_key_file: cannot read {cfg.api_key_file}: not UTF-8 text"]
        if not text:
            return cfg, [f"api_key_file: {cfg.api_key_file} is empty"]
        problem = _header_value_problem(text)
        if problem:
            return cfg, [f"api_key_file: the key in {cfg.api_key_file} {problem}"]
        return cfg.model_copy(update={"api_key": SecretStr(text)}), []
    if cfg.api_key is None or not cfg.api_key.get_secret_value().strip():
        return cfg, ["api_key: required (or api_key_file); it is missing or empty"]
    problem = _header_value_problem(cfg.api_key.get_secret_value())
    return cfg, [f"api_key: the key {problem}"] if problem else []


def _header_value_problem(value: str) -> str | None:
    """A key is sent in an HTTP header: ASCII, no line break. Says what, never the value."""
    if any(ch in "\r\n" for ch in value):
        return "contains a line break (a trailing newline from a file or variable?)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "contains a control character"
    if not value.isascii():
        return "contains a non-ASCII character; HTTP headers carry ASCII only"
    return None


def _header_problem(name: str, value: str) -> str | None:
    problem = header_name_problem(name)
    if problem:
        return problem
    problem = _header_value_problem(value)
    return f"the value {problem}" if problem else None


def _check_notifier(notifier: NotifierConfig) -> list[str]:
    from alertd.notify.urls import invalid_urls  # Apprise is heavy: imported only when needed

    invalid = invalid_urls(notifier.urls)
    return [
        f"urls[{index}]: not a valid Apprise URL (scheme '{scheme}')" for index, scheme in invalid
    ]
