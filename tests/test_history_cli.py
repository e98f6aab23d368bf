"""`alertd history` when there is nothing to show: one line each, naming what is missing,
and never a store file created by a read (the full run is tests/ops/test_runway_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import run_alertd

CONFIG = """\
notifiers:
  ops: json://127.0.0.1:9/hook
providers:
  wallet:
    type: browser7
    api_key: k
"""


@pytest.mark.parametrize(
    ("store", "args", "code", "said"),
    [
        (None, ["wallet"], 1, "no store: configured: the daemon keeps history in memory only"),
        ("sqlite:///{tmp}/gone/alertd.db", ["wallet"], 1,
         "no history yet: sqlite:///{tmp}/gone/alertd.db does not exist (has alertd run?)"),
        (None, ["nobody"], 1, "no provider named 'nobody' in {tmp}/alertd.yaml (known: wallet)"),
        (None, ["wallet", "--since", "soon"], 2, "--since: 'soon' is not a duration"),
    ],
    ids=["memory-only", "no-file-yet", "unknown-provider", "bad-since"],
)  # fmt: skip
def test_history_explains_in_one_line(
    tmp_path: Path, store: str | None, args: list[str], code: int, said: str
) -> None:
    text = CONFIG + (f"store: {store.format(tmp=tmp_path)}\n" if store else "")
    (tmp_path / "alertd.yaml").write_text(text)
    result = run_alertd("history", "-c", str(tmp_path / "alertd.yaml"), *args, cwd=tmp_path)
    assert result.code == code, result
    assert result.stdout == ""
    assert result.stderr.startswith("alertd history: " + said.format(tmp=tmp_path)), result
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "gone").exists()
