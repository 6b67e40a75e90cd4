"""Project-wide pytest setup: every test run gets its own empty data folder (DESIGN.md contract)."""

import os
import tempfile

_data = tempfile.mkdtemp(prefix="opiekun-test-")
os.environ.setdefault("OPIEKUN_DATA_DIR", _data)

pytest_plugins = ["opiekun.testing.fixtures"]
