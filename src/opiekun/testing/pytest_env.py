"""Loaded with `-p` before pytest-django reads the settings: every test run gets its own empty data
folder (the DESIGN.md contract), so tests never write into the checkout's ./var."""

import os
import tempfile

if "OPIEKUN_TEST_KEEP_DATA_DIR" not in os.environ:
    os.environ["OPIEKUN_DATA_DIR"] = tempfile.mkdtemp(prefix="opiekun-test-")
