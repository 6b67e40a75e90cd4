"""Project-wide pytest setup: every test run gets its own empty data folder (DESIGN.md contract)."""

import os
import tempfile

_data = tempfile.mkdtemp(prefix="opiekun-test-")
os.environ.setdefault("OPIEKUN_DATA_DIR", _data)

pytest_plugins = ["opiekun.testing.fixtures"]


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Everything under tests/browser is a browser test (so `-m "not browser"` skips the lot)."""
    import pytest

    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
