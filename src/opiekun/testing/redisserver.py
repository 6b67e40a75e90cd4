"""A real redis-server on loopback for the tests that need one (a pytest plugin of the root conftest).

Skips with a clear message where redis-server is not installed (`make test` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; `make test` does it)")
    port = _free_port()
    directory = tempfile.mkdtemp(prefix="opiekun-redis-")
    subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            directory,
            "--pidfile",
            f"{directory}/redis.pid",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(port), "shutdown", "nosave"],
            capture_output=True,
            timeout=30,
        )
        shutil.rmtree(directory, ignore_errors=True)
