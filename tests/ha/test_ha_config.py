"""The `ha:` section (SPEC §7): defaults that take over within 30 s, and one line per mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support.configs import load_text, problems_of, scrub_alertd_env

PROVIDER = "providers:\n  p:\n    type: youcom\n    api_key: k\n"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    scrub_alertd_env(monkeypatch)


def test_defaults_renew_three_times_per_term_and_take_over_within_30s(tmp_path: Path) -> None:
    ha = load_text(tmp_path, PROVIDER).config.ha
    assert (ha.lease, ha.renew, ha.claim_timeout) == (
        timedelta(seconds=15),
        timedelta(seconds=5),
        timedelta(seconds=60),
    )
    # A dead leader's lease runs out after at most `lease`; a standby tries every `renew`.
    assert ha.lease + ha.renew < timedelta(seconds=30)


def test_settings_are_read(tmp_path: Path) -> None:
    text = PROVIDER + "ha:\n  lease: 6s\n  renew: 2s\n  claim_timeout: 1m\n  node: eu-1\n"
    ha = load_text(tmp_path, text).config.ha
    assert (ha.lease, ha.renew, ha.node) == (timedelta(seconds=6), timedelta(seconds=2), "eu-1")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("renew: 10s", "ha: renew (10s) must be at most half of lease (15s)"),
        ("lease: 500ms", "ha: lease: '500ms' is not a duration"),
        ("lease: 0", "ha: lease (0s) must be at least 1s"),
        ("node: Bad Name", "ha: node: names may only use lowercase letters"),
        ("leases: 5s", "ha: leases: unknown key"),
    ],
)
def test_mistakes_are_one_line_each(tmp_path: Path, section: str, expected: str) -> None:
    lines = problems_of(tmp_path, PROVIDER + f"ha:\n  {section}\n")
    assert len(lines) == 1, lines
    assert expected in lines[0]
