"""Provider types by name. Adding one is a file, a line here and a fixture folder; adding a
preset is a data file in `presets/` and a fixture folder."""

from __future__ import annotations

from alertd.config.model import ProviderConfig
from alertd.providers.base import Provider
from alertd.providers.browser7 import Browser7
from alertd.providers.decaptcha import DeCaptcha
from alertd.providers.http_json import HttpJson
from alertd.providers.lobstr import Lobstr
from alertd.providers.presets import PRESET_DIR, Preset, load_presets, provider_types
from alertd.providers.srtgen import SrtGen
from alertd.providers.youcom import YouCom

CODE_TYPES: dict[str, type[Provider]] = {
    cls.type_name: cls for cls in (Browser7, YouCom, Lobstr, SrtGen, DeCaptcha, HttpJson)
}
PRESETS: dict[str, Preset]
PRESET_PROBLEMS: list[str]  # a broken preset file: every command reports these and stops
PRESETS, PRESET_PROBLEMS = load_presets(PRESET_DIR, reserved=CODE_TYPES)
REGISTRY: dict[str, type[Provider]] = {**CODE_TYPES, **provider_types(PRESETS)}


def build(name: str, config: ProviderConfig) -> Provider:
    return REGISTRY[config.type](name, config)


__all__ = ["CODE_TYPES", "PRESETS", "PRESET_PROBLEMS", "REGISTRY", "Provider", "build"]
