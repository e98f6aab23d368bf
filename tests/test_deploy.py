"""The deployment files (SPEC §5): Dockerfile, docker-compose.yml, the systemd unit.

There is no Docker engine in CI, so what can be checked without one is: the systemd unit by
`systemd-analyze verify` (and its hardening by `systemd-analyze security`), the compose file
and the Dockerfile read as data and checked against each other and against the config they
ship (deploy/config.container.yaml), and the Dockerfile's build and install steps run as a
script (deploy/docker-build-steps.sh reads them from the Dockerfile: they cannot drift).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from alertd.config.loader import load
from alertd.config.types import parse_listen
from alertd.errors import ConfigError
from alertd.store.url import parse_store_url

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
UNIT = REPO / "deploy" / "alertd.service"
CONTAINER_CONFIG = REPO / "deploy" / "config.container.yaml"
BUILD_STEPS = REPO / "deploy" / "docker-build-steps.sh"

# What deploy/config.container.yaml needs to load outside a container (the same values as in
# deploy/docker-build-steps.sh): its ${VAR}s, and its secret file moved to a temp dir.
DUMMY_ENV = {"BROWSER7_API_KEY": "dummy-browser7-key", "NOTIFY_URL": "json://127.0.0.1:9/alertd"}
SECRET_OVERRIDE = "ALERTD_PROVIDERS__LOBSTR__API_KEY_FILE"

INSTALL_SYSTEMD = "apt-get update && apt-get install -y systemd"


# -- reading the files -------------------------------------------------------------------------


def dockerfile_stages(text: str) -> list[list[tuple[str, str]]]:
    """Each stage's (KEYWORD, arguments): continuation lines joined, comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    buf: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf.append(line[:-1].strip())
            continue
        keyword, _, rest = " ".join([*buf, line]).partition(" ")
        buf = []
        if keyword.upper() == "FROM":
            stages.append([])
        assert stages, f"an instruction before the first FROM: {line}"
        stages[-1].append((keyword.upper(), rest.strip()))
    return stages


def args_of(rest: str) -> list[str]:
    """Exec form (JSON array) or shell form, as words."""
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    values = [rest for kw, rest in stage if kw == keyword]
    assert len(values) == 1, f"expected one {keyword} in the final stage, found {values}"
    return values[0]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(rest))  # type: ignore[misc]
    return env


def healthcheck_command(stage: list[tuple[str, str]]) -> list[str]:
    rest = only(stage, "HEALTHCHECK")
    options, sep, command = rest.partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {rest}"
    assert all(o.startswith("--") for o in options.split()), options
    return args_of(command.strip())


def unit_settings(text: str) -> dict[str, list[tuple[int, str, str]]]:
    """section -> [(line index, key, value)], repeated keys kept (systemd allows them)."""
    sections: dict[str, list[tuple[int, str, str]]] = {}
    current = ""
    for index, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections.setdefault(current, [])
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        sections[current].append((index, key.strip(), value.strip()))
    return sections


def unit_values(text: str, section: str = "Service") -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for _, key, value in unit_settings(text)[section]:
        values.setdefault(key, []).append(value)
    return values


def config_references(path: Path) -> set[str]:
    """${VAR} without a :-default in the config's values: variables it cannot load without."""

    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for value in node.values():
                yield from strings(value)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)
        elif isinstance(node, str):
            yield node

    pattern = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
    return {name for s in strings(yaml.safe_load(path.read_text())) for name in pattern.findall(s)}


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages(DOCKERFILE.read_text())[-1]


@pytest.fixture(scope="module")
def compose_service() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    assert "alertd" in compose["services"], "docker-compose.yml has no service `alertd`"
    service: dict[str, Any] = compose["services"]["alertd"]
    service["_top"] = compose
    return service


@pytest.fixture(scope="module")
def container_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CONTAINER_CONFIG.read_text())
    return data


@pytest.fixture(scope="module")
def config_path(final_stage: list[tuple[str, str]]) -> str:
    """The config the image runs with: CMD's -c, also $ALERTD_CONFIG (for `docker exec`)."""
    cmd = args_of(only(final_stage, "CMD"))
    assert "-c" in cmd, f"CMD names no config: {cmd}"
    path = cmd[cmd.index("-c") + 1]
    assert env_of(final_stage).get("ALERTD_CONFIG") == path
    return path


@pytest.fixture(scope="module")
def listen_port(container_config: dict[str, Any]) -> int:
    listen = container_config["http"]["listen"]
    host, port = parse_listen(listen)
    assert host == "0.0.0.0", f"http.listen {listen}: the port mapping needs 0.0.0.0"
    return port


def mounts(service: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Compose volumes in the long form, whichever form the file uses."""
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            yield entry
            continue
        source, target, *mode = entry.split(":")
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        yield {"type": kind, "source": source, "target": target, "read_only": "ro" in mode}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ALERTD_* override from the test run's environment reaches the loader."""
    for name in list(os.environ):
        if name.startswith("ALERTD_") or name in DUMMY_ENV:
            monkeypatch.delenv(name)
    return monkeypatch


# -- the systemd unit --------------------------------------------------------------------------


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail(
            "systemd-analyze is not installed: the systemd unit cannot be verified. "
            f"Install it (Debian/Ubuntu: `{INSTALL_SYSTEMD}`)."
        )
    return path


def verifiable_unit(tmp_path: Path, *, credentials: bool = False) -> Path:
    """A copy of the unit whose ExecStart= binary exists here (verify refuses a missing one),
    optionally with its commented LoadCredential= example switched on."""
    text = UNIT.read_text()
    assert "\nExecStart=/usr/local/bin/alertd " in text
    alertd = Path(sys.executable).parent / "alertd"
    assert alertd.exists(), f"no alertd console script next to {sys.executable}"
    text = text.replace("\nExecStart=/usr/local/bin/alertd ", f"\nExecStart={alertd} ")
    if credentials:
        assert "\n#LoadCredential=" in text
        text = text.replace("\n#LoadCredential=", "\nLoadCredential=")
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    return copy


@pytest.mark.parametrize("credentials", [False, True], ids=["as-shipped", "with-credentials"])
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, credentials: bool) -> None:
    unit = verifiable_unit(tmp_path, credentials=credentials)
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    # verify exits 0 even on unknown keys; they are only printed, naming the file and line.
    about_ours = [line for line in output.splitlines() if unit.name in line]
    assert result.returncode == 0, output
    assert about_ours == [], "\n".join(about_ours)


def test_unit_exposure_is_low(tmp_path: Path) -> None:
    """`systemd-analyze security`: 0 (locked down) to 10 (exposed); "OK" is below 2."""
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", str(verifiable_unit(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for alertd\.service: ([\d.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_unit_runs_alertd_as_specified() -> None:
    service = unit_values(UNIT.read_text())
    env = dict(value.split("=", 1) for value in service["Environment"])
    assert service["Type"] in (["exec"], ["simple"])
    assert service["ExecStart"] == ["/usr/local/bin/alertd run -c ${ALERTD_CONFIG}"]
    assert env["ALERTD_CONFIG"] == "/etc/alertd/config.yaml"
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Restart"] == ["on-failure"]
    # The store is in the state directory, the one place ProtectSystem=strict leaves.
    assert service["StateDirectory"] == ["alertd"]
    assert env["ALERTD_STORE"] == "sqlite:///var/lib/alertd/alertd.db"
    assert parse_store_url(env["ALERTD_STORE"]).path == Path("/var/lib/alertd/alertd.db")
    assert "ALERTD_STATE_FILE" not in env  # refused at start now: store: replaced it
    assert service["ConfigurationDirectory"] == ["alertd"]
    assert PurePosixPath(env["ALERTD_CONFIG"]).parent == PurePosixPath("/etc/alertd")


@pytest.mark.parametrize(("value", "accepted"), [("16384", True), ("lots", False)])
def test_unit_raises_the_descriptor_limit(tmp_path: Path, value: str, accepted: bool) -> None:
    """systemd's default soft limit (1,024) is below what a thousand providers may hold, and
    1,100 idle clients once exhausted it (issue 8). `systemd-analyze verify` parses the value
    (a wrong one is reported against its line, as the second case shows)."""
    service = unit_values(UNIT.read_text())
    assert service.get("LimitNOFILE") == ["16384"]
    unit = verifiable_unit(tmp_path)
    unit.write_text(unit.read_text().replace("\nLimitNOFILE=16384\n", f"\nLimitNOFILE={value}\n"))
    result = subprocess.run(
        [systemd_analyze(), "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    complaints = [
        line for line in (result.stdout + result.stderr).splitlines() if unit.name in line
    ]
    assert result.returncode == 0
    if accepted:
        assert complaints == []
    else:
        assert any("Failed to parse resource value" in line for line in complaints), complaints


HARDENING = {
    "DynamicUser": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "NoNewPrivileges": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


def test_unit_is_hardened() -> None:
    service = unit_values(UNIT.read_text())
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{key}={service.get(key)}, expected {value!r}"
    assert service["SystemCallFilter"][0] == "@system-service"


def test_every_unit_setting_is_explained() -> None:
    """Each block of settings in [Service] starts under a comment saying what it does."""
    text = UNIT.read_text()
    lines = text.splitlines()
    unexplained = []
    for index, key, _ in unit_settings(text)["Service"]:
        above = index - 1
        while above >= 0 and "=" in lines[above] and not lines[above].startswith("#"):
            above -= 1  # up through the block of settings this one belongs to
        if above < 0 or not lines[above].startswith("#"):
            unexplained.append(key)
    assert unexplained == []


# -- docker-compose.yml ------------------------------------------------------------------------


def test_compose_builds_and_restarts_the_image(compose_service: dict[str, Any]) -> None:
    build = compose_service["build"]
    context = build if isinstance(build, str) else build["context"]
    assert (REPO / context).resolve() == REPO
    if isinstance(build, dict) and "dockerfile" in build:
        assert (REPO / context / build["dockerfile"]).resolve() == DOCKERFILE
    assert compose_service["image"] == "alertd:latest"
    assert compose_service["restart"] in ("unless-stopped", "always", "on-failure")


def test_compose_mounts_the_config_where_the_image_reads_it(
    compose_service: dict[str, Any], config_path: str
) -> None:
    (config,) = [m for m in mounts(compose_service) if m["target"] == config_path]
    assert config["type"] == "bind"
    assert config["read_only"] is True
    assert (REPO / config["source"]).resolve() == CONTAINER_CONFIG


def test_compose_state_volume_holds_the_store(
    compose_service: dict[str, Any],
    container_config: dict[str, Any],
    final_stage: list[tuple[str, str]],
) -> None:
    database = parse_store_url(container_config["store"]).path
    assert database is not None
    state_dir = str(PurePosixPath(database).parent)
    (state,) = [m for m in mounts(compose_service) if m["target"] == state_dir]
    assert state["type"] == "volume"
    assert state["source"] in compose_service["_top"]["volumes"], "named volume not declared"
    assert args_of(only(final_stage, "VOLUME")) == [state_dir]


def test_compose_publishes_the_listen_port_on_loopback(
    compose_service: dict[str, Any], listen_port: int
) -> None:
    (port,) = compose_service["ports"]
    host_ip, host_port, container_port = str(port).split(":")
    assert host_ip == "127.0.0.1"
    assert int(container_port) == listen_port
    assert int(host_port) == listen_port
    # The image's HEALTHCHECK applies unless compose replaces it; if it does, same endpoint.
    if "healthcheck" in compose_service:
        test = " ".join(compose_service["healthcheck"]["test"])
        assert f"127.0.0.1:{listen_port}/healthz" in test


def test_compose_provides_every_secret_and_variable_the_config_needs(
    compose_service: dict[str, Any], container_config: dict[str, Any]
) -> None:
    top_secrets = compose_service["_top"]["secrets"]
    provided = {}
    for entry in compose_service["secrets"]:
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        assert "file" in top_secrets[source], f"secret {source}: not from a file"
        provided[f"/run/secrets/{target}"] = source
    key_files = {
        p["api_key_file"] for p in container_config["providers"].values() if "api_key_file" in p
    }
    assert key_files, "the container config reads no key from a secret file"
    assert key_files <= set(provided), f"config reads {key_files}, compose mounts {provided}"
    environment = compose_service["environment"]
    names = {name.split("=", 1)[0] for name in environment}  # a mapping or a list of NAME=value
    assert config_references(CONTAINER_CONFIG) <= names
    env_files = compose_service["env_file"]
    assert [e["path"] for e in env_files] == [".env"]
    assert all(e["required"] is False for e in env_files), ".env must stay optional"


def test_compose_hardening(compose_service: dict[str, Any]) -> None:
    assert compose_service["read_only"] is True
    assert any(str(t).split(":")[0] == "/tmp" for t in compose_service["tmpfs"])
    assert compose_service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in compose_service["security_opt"]


# -- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_stages_use_a_slim_python_base() -> None:
    stages = dockerfile_stages(DOCKERFILE.read_text())
    assert len(stages) == 2, "a build stage and a runtime stage"
    for stage in stages:
        image = only(stage, "FROM").split()[0]
        assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", image), image


def test_dockerfile_runs_as_an_unprivileged_user(final_stage: list[tuple[str, str]]) -> None:
    user = only(final_stage, "USER")
    uid = user.split(":")[0]
    assert uid not in ("root", "0"), user
    assert uid == "10001"
    creates = " ".join(rest for kw, rest in final_stage if kw == "RUN")
    assert "--uid 10001" in creates
    # USER comes after every RUN: nothing after it runs as root.
    keywords = [kw for kw, _ in final_stage]
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")


def test_dockerfile_healthcheck_asks_healthz_on_the_listen_port(
    final_stage: list[tuple[str, str]], listen_port: int
) -> None:
    command = healthcheck_command(final_stage)
    assert command[:2] == ["python", "-c"], "slim images have no curl: python's urllib"
    (url,) = re.findall(r"https?://[^'\"\s]+", command[2])
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", listen_port, "/healthz")
    compile(command[2], "HEALTHCHECK", "exec")
    assert args_of(only(final_stage, "EXPOSE")) == [str(listen_port)]


def test_dockerfile_runs_alertd_with_the_config_it_ships(
    final_stage: list[tuple[str, str]], config_path: str
) -> None:
    assert args_of(only(final_stage, "ENTRYPOINT")) == ["alertd"]
    assert args_of(only(final_stage, "CMD")) == ["run", "-c", config_path]
    assert ("COPY", f"deploy/config.container.yaml {config_path}") in final_stage
    assert only(final_stage, "STOPSIGNAL") == "SIGTERM"
    env = env_of(final_stage)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_dockerfile_builds_a_wheel_and_installs_it() -> None:
    build, final = dockerfile_stages(DOCKERFILE.read_text())
    build_runs = [rest for kw, rest in build if kw == "RUN"]
    final_runs = [rest for kw, rest in final if kw == "RUN"]
    assert any(r.startswith("python -m pip wheel --no-deps ") for r in build_runs), build_runs
    assert any(r.startswith("python -m pip install ") for r in final_runs), final_runs
    assert any(kw == "COPY" and rest.startswith("--from=build ") for kw, rest in final)


def test_dockerignore_keeps_secrets_out_of_the_build_context() -> None:
    patterns = (REPO / ".dockerignore").read_text().split()
    for pattern in (".env", "secrets", ".git", ".venv"):
        assert pattern in patterns


# -- the Dockerfile's steps, run as a script ---------------------------------------------------


@pytest.mark.e2e
def test_dockerfile_steps_build_install_and_run(tmp_path: Path) -> None:
    """deploy/docker-build-steps.sh: a wheel from the source tree, a fresh venv, the image's
    config validated, its HEALTHCHECK against the running daemon. About 30 s (pip)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTD_")}
    env |= {"PYTHON": sys.executable, "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(BUILD_STEPS)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    # Every pip step of the Dockerfile was run, not skipped.
    for stage in dockerfile_stages(DOCKERFILE.read_text()):
        for keyword, rest in stage:
            if keyword == "RUN" and "pip" in rest:
                assert f"RUN {rest}\n    in " in output, f"not run: {rest}"
    assert "alertd validate" in output
    assert "OK: " in output
    if "HEALTHCHECK passes against the running daemon" in output:  # where it could run it
        assert "store written: /var/lib/alertd/alertd.db" in output


FAST_FAILURES = {
    "no-final-stage": ("", "no ENTRYPOINT"),
    "pip-not-via-python": (
        "FROM python:3.12-slim\nRUN pip install alertd\n",
        "a pip step that this script would skip",
    ),
    "absolute-path": (
        "FROM python:3.12-slim\nRUN python -m pip install /wheels/x.whl\n",
        "literal absolute path",
    ),
    "missing-source": ("FROM python:3.12-slim\nCOPY no-such-file /x\n", "does not exist"),
}


@pytest.mark.parametrize("dockerfile", FAST_FAILURES.values(), ids=FAST_FAILURES.keys())
def test_dockerfile_steps_script_fails_on_a_broken_dockerfile(
    tmp_path: Path, dockerfile: tuple[str, str]
) -> None:
    text, message = dockerfile
    (tmp_path / "Dockerfile").write_text(text)
    env = dict(os.environ, PYTHON=sys.executable, DOCKERFILE=str(tmp_path / "Dockerfile"))
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(
        ["bash", str(BUILD_STEPS)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stdout + result.stderr


# -- the container config ----------------------------------------------------------------------


def test_container_config_loads_with_its_variables_and_secret(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, container_config: dict[str, Any]
) -> None:
    assert set(DUMMY_ENV) == config_references(CONTAINER_CONFIG)
    for name, value in DUMMY_ENV.items():
        clean_env.setenv(name, value)
    secret = tmp_path / "lobstr_api_key"
    secret.write_text("dummy-lobstr-key\n")
    clean_env.setenv(SECRET_OVERRIDE, str(secret))
    clean_env.setenv("ALERTD_STORE", f"sqlite://{tmp_path / 'alertd.db'}")

    settings = load(CONTAINER_CONFIG)

    config = settings.config
    assert config.http.listen == container_config["http"]["listen"]
    assert config.providers["lobstr"].api_key_value() == "dummy-lobstr-key"
    assert config.providers["browser7"].api_key_value() == DUMMY_ENV["BROWSER7_API_KEY"]
    assert container_config["store"] == "sqlite:///var/lib/alertd/alertd.db"
    assert config.store_url() == f"sqlite://{tmp_path / 'alertd.db'}"  # the override wins
    assert container_config["providers"]["lobstr"]["api_key_file"].startswith("/run/secrets/")


def test_container_config_names_a_missing_variable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without BROWSER7_API_KEY, alertd refuses to start and says which variable is unset."""
    clean_env.setenv("NOTIFY_URL", DUMMY_ENV["NOTIFY_URL"])
    secret = tmp_path / "lobstr_api_key"
    secret.write_text("dummy-lobstr-key\n")
    clean_env.setenv(SECRET_OVERRIDE, str(secret))
    with pytest.raises(ConfigError) as error:
        load(CONTAINER_CONFIG)
    assert "BROWSER7_API_KEY" in str(error.value)
