"""Long-running services a worker process runs beside the task queue (IMAP watchers, the SMTP intake).

Apps register a factory in ready(); `opiekun run` starts them with the worker and stops them on Ctrl-C.
Kept in the kernel so the serving command does not import the channel apps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


_factories: list[Callable[[], Service]] = []


def register(factory: Callable[[], Service]) -> None:
    if factory not in _factories:
        _factories.append(factory)


def start_all() -> list[Service]:
    started = []
    for factory in _factories:
        try:
            service = factory()
            service.start()
        except Exception:
            log.exception("background service %s did not start", getattr(factory, "__name__", factory))
            continue
        started.append(service)
    return started


def stop_all(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            service.stop()
        except Exception:
            log.exception("background service %s did not stop cleanly", service)
