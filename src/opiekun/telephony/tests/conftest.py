from __future__ import annotations

from collections.abc import Iterator

import pytest

from opiekun.webhooks import selectors as webhook_selectors
from opiekun.webhooks import views as webhook_views

from . import standins


@pytest.fixture
def standin() -> Iterator[standins.StandIn]:
    yield from standins.serve()


@pytest.fixture(autouse=True)
def _fresh_webhook_caches() -> Iterator[None]:
    webhook_selectors.forget_tokens()
    webhook_views._noted.clear()
    yield
    webhook_selectors.forget_tokens()
