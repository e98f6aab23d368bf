"""The hostile-input suite (issue 8): alertd, as a daemon or CLI, against providers,
notifiers, listener clients and config or state files that try to break it.

Every test in this folder carries the `hostile` marker, so `pytest -m hostile` runs the
suite alone; `make test` (and so `.ci/run`) runs it with everything else. Each test file
owns one party: `test_providers.py`, `test_notifiers.py`, `test_listener.py`,
`test_config_state.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.hostile)
