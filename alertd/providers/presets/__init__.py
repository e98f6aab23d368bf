"""Presets (SPEC §9): popular balance APIs as data on top of http_json, one YAML file each in
this folder, so that `type: deepl` plus an `api_key` is a whole provider.

A preset file holds `title`, `docs` (the provider's own documentation of the endpoint),
`min_interval` (polling faster risks its rate limits: `validate` warns) and any http_json
key. An account's config overrides any of them. The files are read and checked once, when
the registry is built: a broken one is left out of it and reported as a config error by
every command (`load_presets` returns the problems, one line each), never a traceback.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import ValidationError, field_validator

from alertd.config.messages import describe, shown_input
from alertd.config.model import Endpoint, Interval, KeyPlacement, ProviderConfig
from alertd.config.safe_yaml import YamlProblem, parse
from alertd.config.types import format_duration
from alertd.files import UnreadableFile, read_regular
from alertd.providers.base import Provider
from alertd.providers.http_json import HttpJson, endpoint_problems

PRESET_DIR = Path(__file__).parent
MAX_PRESET_BYTES = 64 << 10
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
# Keys that say the same thing two ways: an account that sets one drops the preset's other.
_ALTERNATIVES = (
    frozenset({"expression", "used_expression"}),
    frozenset({"unit", "unit_expression"}),
)


class PresetFile(Endpoint):
    """What a preset file may hold: its own three keys and any http_json key."""

    title: str
    docs: str
    min_interval: Interval = timedelta(minutes=1)

    @field_validator("docs")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://") or any(ch.isspace() for ch in value):
            raise ValueError("must be an https:// link to the provider's documentation")
        return value


@dataclass(frozen=True)
class Preset:
    """One preset: its description and the http_json keys its file sets."""

    name: str
    title: str
    docs: str
    min_interval: timedelta
    settings: Mapping[str, Any]

    @property
    def auth(self) -> KeyPlacement | None:
        return cast(KeyPlacement | None, self.settings.get("auth"))

    def apply(self, config: ProviderConfig) -> ProviderConfig:
        """The account's config over this preset: every key the config sets wins."""
        given = config.model_fields_set
        dropped = {key for pair in _ALTERNATIVES if pair & given for key in pair}
        inherited = {k: v for k, v in self.settings.items() if k not in given and k not in dropped}
        return config.model_copy(update=inherited)


class PresetProvider(HttpJson):
    """http_json with a preset's keys under the account's own (one subclass per preset)."""

    preset: ClassVar[Preset]

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, self.preset.apply(config))

    @classmethod
    def key_placement(cls) -> str:
        auth = cls.preset.auth
        return auth.describe() if auth is not None else "nowhere"

    def config_warnings(self) -> list[str]:
        interval, minimum = self.config.interval, self.preset.min_interval
        if interval >= minimum:
            return []
        return [
            f"interval {format_duration(interval)} is shorter than the"
            f" {format_duration(minimum)} {self.type_name} should be polled at most every"
            f" (its rate limits: {self.preset.docs})"
        ]


def provider_types(presets: Mapping[str, Preset]) -> dict[str, type[Provider]]:
    """A registry entry per preset: a PresetProvider subclass carrying the preset."""
    return {
        name: type(
            f"Preset_{name.replace('-', '_')}",
            (PresetProvider,),
            {
                "type_name": name,
                "preset": preset,
                "title": preset.title,
                "docs_url": preset.docs,
                "default_base_url": preset.settings.get("base_url"),
            },
        )
        for name, preset in presets.items()
    }


def load_presets(folder: Path, reserved: Collection[str]) -> tuple[dict[str, Preset], list[str]]:
    """Every `*.yaml` preset in `folder` that is valid, and one line per problem of the others;
    `reserved` are the names a preset may not take (the code types)."""
    presets: dict[str, Preset] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml"), key=lambda p: p.stem):
        preset, lines = _load(path, reserved)
        problems.extend(f"preset {path}: {line}" for line in lines)
        if preset is not None and not lines:
            presets[preset.name] = preset
    return presets, problems


def _load(path: Path, reserved: Collection[str]) -> tuple[Preset | None, list[str]]:
    name = path.stem
    if not name or not set(name) <= _NAME_CHARS or name[0] == "-":
        return None, ["the file name must be lowercase letters, digits and '-', then .yaml"]
    if name in reserved:
        return None, [f"'{name}' is the name of a built-in type"]
    try:
        data, duplicates = parse(read_regular(path, MAX_PRESET_BYTES).decode("utf-8"))
    except (OSError, UnreadableFile, UnicodeDecodeError) as exc:
        return None, [f"cannot read it ({type(exc).__name__})"]
    except YamlProblem as exc:
        return None, exc.problems
    if not isinstance(data, dict):
        return None, ["the top level must be a mapping of keys"]
    try:
        file = PresetFile.model_validate(data)
    except ValidationError as exc:
        return None, [*duplicates, *_describe(exc, data)]
    problems = [*duplicates, *endpoint_problems(file, name)]
    missing = [key for key in ("base_url", "auth") if not getattr(file, key)]
    problems.extend(f"{key}: required in a preset" for key in missing)
    endpoint_keys = file.model_fields_set & set(Endpoint.model_fields)
    settings = {key: getattr(file, key) for key in endpoint_keys}
    return Preset(name, file.title, file.docs, file.min_interval, settings), problems


def _describe(exc: ValidationError, data: Mapping[str, Any]) -> list[str]:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        key = ".".join(str(part) for part in loc)
        message = describe(error["type"], error["msg"], loc, shown_input(loc, data))
        lines.append(f"{key}: {message}" if key else message)
    return lines
