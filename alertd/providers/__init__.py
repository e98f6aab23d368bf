"""Provider types by name. Adding one is a file, a line here and a fixture folder."""

from __future__ import annotations

from alertd.config.model import ProviderConfig
from alertd.providers.base import Provider
from alertd.providers.browser7 import Browser7
from alertd.providers.decaptcha import DeCaptcha
from alertd.providers.http_json import HttpJson
from alertd.providers.lobstr import Lobstr
from alertd.providers.srtgen import SrtGen
from alertd.providers.youcom import YouCom

REGISTRY: dict[str, type[Provider]] = {
    cls.type_name: cls for cls in (Browser7, YouCom, Lobstr, SrtGen, DeCaptcha, HttpJson)
}


def build(name: str, config: ProviderConfig) -> Provider:
    return REGISTRY[config.type](name, config)


__all__ = ["REGISTRY", "Provider", "build"]
