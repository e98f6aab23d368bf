"""docker-compose.ha.yml (SPEC §7): PostgreSQL and two alertd replicas, read as data (no
Docker engine in CI) and checked against the config they run (deploy/config.ha.yaml) and
the image (its Dockerfile, its listen port), like tests/test_deploy.py does for the single
container."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from support.cli import run_alertd

from alertd.config.loader import load

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.ha.yml"
CONFIG = REPO / "deploy" / "config.ha.yaml"
REPLICAS = ("alertd-a", "alertd-b")
PASSWORD = "SENTINEL-DB-PW-4"
ENV = {"POSTGRES_PASSWORD": PASSWORD, "BROWSER7_API_KEY": "k", "NOTIFY_URL": "json://127.0.0.1:9/x"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved
    return data


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("ALERTD_"):
            monkeypatch.delenv(name)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _variable(value: str) -> str:
    """`${NAME...}` -> NAME: a value passed from the environment, never written here."""
    match = re.fullmatch(r"\$\{([A-Z_]+)[^}]*\}", value)
    assert match, f"{value!r} is written in the file, not taken from the environment"
    return match.group(1)


def test_two_replicas_run_the_same_image_and_config_with_their_own_names(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    a, b = (services[name] for name in REPLICAS)
    for key in ("build", "image", "volumes", "read_only", "cap_drop", "security_opt"):
        assert a[key] == b[key], key
    assert a["image"] == "alertd:latest"
    assert (REPO / a["build"]["context"]).resolve() == REPO
    (mount,) = a["volumes"]
    assert (REPO / mount["source"]).resolve() == CONFIG
    assert (mount["target"], mount["read_only"]) == ("/etc/alertd/config.yaml", True)
    names = {s["environment"]["ALERTD_HA__NODE"] for s in (a, b)}
    assert names == {"alertd-a", "alertd-b"}
    for replica in (a, b):
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert replica["cap_drop"] == ["ALL"]


def test_each_replica_publishes_its_health_on_loopback(compose: dict[str, Any]) -> None:
    listen_port = int(yaml.safe_load(CONFIG.read_text())["http"]["listen"].rsplit(":", 1)[1])
    host_ports = set()
    for name in REPLICAS:
        (port,) = compose["services"][name]["ports"]
        host_ip, host_port, container_port = port.split(":")
        assert host_ip == "127.0.0.1"
        assert int(container_port) == listen_port
        host_ports.add(host_port)
    assert len(host_ports) == 2


def test_postgresql_is_checked_before_the_replicas_start_and_keeps_its_data(
    compose: dict[str, Any],
) -> None:
    postgres = compose["services"]["postgres"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    (data,) = postgres["volumes"]
    assert data["target"] == "/var/lib/postgresql/data"
    assert data["source"] in compose["volumes"]


def test_the_database_password_comes_from_the_environment_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert _variable(services["postgres"]["environment"]["POSTGRES_PASSWORD"]) == (
        "POSTGRES_PASSWORD"
    )
    for name in REPLICAS:
        environment = services[name]["environment"]
        assert _variable(environment["POSTGRES_PASSWORD"]) == "POSTGRES_PASSWORD"
    store = yaml.safe_load(CONFIG.read_text())["store"]
    assert urlsplit(store).password == "${POSTGRES_PASSWORD}"


def test_the_replicas_config_names_the_compose_database_and_takes_over_within_30s(
    compose: dict[str, Any], env: pytest.MonkeyPatch
) -> None:
    env.setenv("ALERTD_HA__NODE", "alertd-a")
    config = load(CONFIG).config
    url = urlsplit(config.store_url() or "")
    postgres = compose["services"]["postgres"]["environment"]
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
    assert (url.username, url.path) == (postgres["POSTGRES_USER"], f"/{postgres['POSTGRES_DB']}")
    assert url.password == PASSWORD
    assert config.ha.node == "alertd-a"
    assert (config.ha.lease + config.ha.renew).total_seconds() < 30


def test_validate_never_shows_the_database_password() -> None:
    done = run_alertd("validate", "-c", str(CONFIG), cwd=REPO, env=dict(ENV))
    assert done.code == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
