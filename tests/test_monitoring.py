"""What ships for Prometheus and Grafana (deploy/prometheus, deploy/grafana): the alerting
rules pass `promtool check rules` and their own `promtool test rules` cases (Debian's
prometheus package), every metric they and the dashboard name is one alertd really exports,
and the dashboard is a well-formed Grafana dashboard whose every query is valid PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertd.core.forecast import Forecast, Outlook
from alertd.core.model import Poll, Reading, Severity
from alertd.core.series import Event, EventKind
from alertd.core.state import CheckState
from alertd.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "alertd.json"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
# Grafana's variables, as Grafana would substitute them before sending a query.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "7d", "$provider": ".*"}


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def exported_metric_names() -> set[str]:
    """The sample names of a real /metrics render, every family fed at least once."""
    metrics = Metrics()
    reading = Reading(Decimal(3), "USD", NOW)
    checks = {
        "balance": CheckState(Severity.CRITICAL, "below critical threshold", NOW),
        "fetch": CheckState(Severity.OK, "checked successfully", NOW),
    }
    metrics.on_poll("wallet", "browser7", Poll(NOW, reading=reading, duration=0.01), checks)
    forecast = Forecast(
        Outlook.RUNS_OUT,
        "USD",
        history=timedelta(days=2),
        needed=timedelta(days=1),
        rate=Decimal(4),
        runway=timedelta(hours=18),
        exhausted_at=NOW + timedelta(hours=18),
    )
    metrics.on_forecast("wallet", forecast, [Event(NOW, EventKind.TOPUP, Decimal(5), Decimal(8))])
    metrics.on_delivery("ops", "first", False, 1.5)
    metrics.scheduler_running.set(1)
    metrics.providers.set(1)
    lines = metrics.render().decode().splitlines()
    return {line.split("{")[0].split(" ")[0] for line in lines if not line.startswith("#")}


def names_in(text: str) -> set[str]:
    return set(re.findall(r"\balertd_[a-z_]+\b", text))


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


@pytest.fixture(scope="module", autouse=True)
def _promtool_installed() -> None:
    assert Path(PROMTOOL).exists(), "promtool (Debian's prometheus package) is needed"


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_rules_fire_as_their_unit_tests_say() -> None:
    result = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    tested = {t["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for t in case["alert_rule_test"]}  # fmt: skip
    defined = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert tested == defined  # every rule has a case that makes it fire


def test_the_rules_cover_balance_runway_cannot_check_and_stale() -> None:
    rules = {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    covered = {"BalanceCritical", "BalanceWarning", "RunwayCritical", "RunwayWarning",
               "CannotCheck", "BalanceStale"}  # fmt: skip
    assert {f"Alertd{name}" for name in covered} <= set(rules)
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name


def test_every_metric_named_is_one_alertd_exports() -> None:
    exported = exported_metric_names()
    assert {"alertd_balance", "alertd_runway_seconds", "alertd_topups_total"} <= exported
    named = names_in(RULES.read_text()) | names_in(" ".join(dashboard_queries()))
    assert named - exported == set(), f"not exported: {sorted(named - exported)}"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query as a recording rule (Grafana's variables substituted)."""
    queries = dashboard_queries()
    rules = []
    for index, query in enumerate(queries):
        for variable, value in GRAFANA_VARIABLES.items():
            query = query.replace(variable, value)
        rules.append({"record": f"dashboard:query_{index}", "expr": query})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_the_dashboard_is_well_formed() -> None:
    data = dashboard()
    assert (data["uid"], data["title"]) == ("alertd-balances", "alertd: prepaid balances")
    assert data["schemaVersion"] >= 36
    panels = data["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert target["refId"]
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["provider"]["definition"] == "label_values(alertd_balance, provider)"
    titles = {p["title"] for p in panels}
    assert {"Balance", "Runway", "Burn rate per day", "Balances, worst first"} <= titles
