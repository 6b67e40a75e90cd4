"""Work a serving process does once at start (warming caches), registered by apps in ready().

Kept in the kernel so `opiekun run` need not know which apps have something to warm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)
_hooks: list[Callable[[], object]] = []


def on_serve(hook: Callable[[], object]) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def run_hooks() -> None:
    for hook in _hooks:
        try:
            hook()
        except Exception:
            log.exception("start-up hook %s failed", getattr(hook, "__name__", hook))
