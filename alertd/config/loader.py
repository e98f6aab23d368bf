"""Reads the config file into a validated `Settings`, or raises ConfigError with every problem.

Each problem is one line naming the file, the provider or notifier, the key and what is
wrong. No line ever quotes a secret: pydantic errors are read without their inputs, YAML
errors without their source snippets, Apprise URLs are shown by scheme only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from alertd.config.interpolate import interpolate
from alertd.config.model import AlertdConfig, NotifierConfig, ProviderConfig, RawLayers
from alertd.errors import ConfigError
from alertd.providers import REGISTRY, Provider, build

DEFAULT_PATHS = (Path("config.yaml"), Path("/etc/alertd/config.yaml"))


@dataclass(frozen=True)
class Settings:
    """A loaded, checked configuration and the provider adapters it describes."""

    path: Path
    config: AlertdConfig
    providers: Mapping[str, Provider]

    def secrets(self) -> list[str]:
        """Every secret value in the config, for the log redaction processor."""
        values: list[SecretStr | None] = []
        for provider in self.config.providers.values():
            values.append(provider.api_key)
            values.extend(provider.headers.values())
        for notifier in self.config.notifiers.values():
            values.extend(notifier.urls)
        return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


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
    environ = os.environ
    path = find_config(explicit, environ)
    raw = _read_yaml(path)
    unset: list[tuple[tuple[str | int, ...], str]] = []
    data = interpolate(raw, environ, unset)
    problems = [f"{path}: {_located(loc, message)}" for loc, message in unset]
    try:
        config = AlertdConfig(**data)
    except SettingsError as exc:  # an ALERTD_* variable that is not valid JSON for its field
        raise ConfigError([f"{path}: environment overrides (ALERTD_*): {exc}"]) from None
    except ValidationError as exc:
        problems.extend(f"{path}: {line}" for line in _describe(exc, data))
        problems.extend(f"{path}: {line}" for line in _check_valid_parts(data, exc))
        raise ConfigError(list(dict.fromkeys(problems))) from None
    config, providers, semantic = _check(config)
    problems.extend(f"{path}: {line}" for line in semantic)
    if problems:
        raise ConfigError(problems)
    return Settings(path=path, config=config, providers=providers)


def _check_valid_parts(data: dict[str, Any], exc: ValidationError) -> list[str]:
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
        problems.extend(f"provider '{name}': {line}" for line in lines)
    for name, body in layers.notifiers.items():
        if ("notifiers", name) in failed:
            continue
        try:
            notifier = NotifierConfig.model_validate(body)
        except ValidationError:
            continue
        problems.extend(f"notifier '{name}': {line}" for line in _check_notifier(notifier))
    return problems


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError([f"{path}: cannot read config file: {reason}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{path}: {where}YAML syntax error: {exc.problem}"]) from None
    except yaml.YAMLError:
        raise ConfigError([f"{path}: YAML syntax error"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping of keys"])
    return data


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


def _describe(exc: ValidationError, data: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    default_keys = set(
        (data.get("defaults") or {}) if isinstance(data.get("defaults"), dict) else {}
    )
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        _, key = _where(loc)
        if _inherited_from_defaults(loc, key, data, default_keys):
            continue  # already reported once under `defaults`
        lines.append(_located(loc, _message(error["type"], error["msg"], loc)))
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


def _message(kind: str, msg: str, loc: tuple[int | str, ...]) -> str:
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch":
        return "names may only use lowercase letters, digits, '-' and '_'"
    return msg.removeprefix("Value error, ")


def _check(config: AlertdConfig) -> tuple[AlertdConfig, dict[str, Provider], list[str]]:
    """Rules that need the provider registry, the file system or Apprise."""
    problems: list[str] = []
    if not config.providers:
        problems.append("providers: no providers configured")
    resolved: dict[str, ProviderConfig] = {}
    providers: dict[str, Provider] = {}
    for name, provider_config in config.providers.items():
        provider_config, lines = _check_provider(name, provider_config, config.notifiers)
        problems.extend(f"provider '{name}': {line}" for line in lines)
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
    if REGISTRY[cfg.type].needs_api_key:
        cfg, key_problems = _resolve_api_key(cfg)
        problems.extend(key_problems)
    problems.extend(build(name, cfg).config_problems())
    for notifier in _unknown(cfg.notify or (), notifiers):
        problems.append(f"notify: unknown notifier '{notifier}'")
    return cfg, problems


def _unknown(names: Iterable[str], known: Mapping[str, object]) -> list[str]:
    return [n for n in names if n not in known]


def _resolve_api_key(cfg: ProviderConfig) -> tuple[ProviderConfig, list[str]]:
    if cfg.api_key is not None and cfg.api_key_file is not None:
        return cfg, ["api_key and api_key_file are both set; keep one"]
    if cfg.api_key_file is not None:
        try:
            text = cfg.api_key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            return cfg, [f"api_key_file: cannot read {cfg.api_key_file}: {reason}"]
        if not text:
            return cfg, [f"api_key_file: {cfg.api_key_file} is empty"]
        return cfg.model_copy(update={"api_key": SecretStr(text)}), []
    if cfg.api_key is None or not cfg.api_key.get_secret_value().strip():
        return cfg, ["api_key: required (or api_key_file); it is missing or empty"]
    return cfg, []


def _check_notifier(notifier: NotifierConfig) -> list[str]:
    from alertd.notify.urls import invalid_urls  # Apprise is heavy: imported only when needed

    # Apprise logs why it refuses a URL, quoting tokens in full ("An invalid Slack (third)
    # Token (...) was specified"): silence it here, each refused URL gets its own line below.
    apprise_log = logging.getLogger("apprise")
    level = apprise_log.level
    apprise_log.setLevel(logging.CRITICAL + 1)
    try:
        invalid = invalid_urls(notifier.urls)
    finally:
        apprise_log.setLevel(level)
    return [
        f"urls[{index}]: not a valid Apprise URL (scheme '{scheme}')" for index, scheme in invalid
    ]
