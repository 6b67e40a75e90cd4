"""A fake clock for tests: `with frozen(at): ...` pins opiekun.core.clock.now()."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from opiekun.core import clock


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    clock.freeze(at)
    try:
        yield
    finally:
        clock.freeze(None)
