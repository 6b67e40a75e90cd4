"""The connector seam: what a shop platform provides, and the parts every connector shares.

A platform is one module in this folder with a webhook `Source` (verify + process, registered with
`opiekun.webhooks`) and a `pages(connector, http)` generator for the catch-up: it pages the
platform's API from the connector's saved cursor, yielding each page's orders with the cursor to save
once they are written. `platforms` holds them, registered explicitly in CommerceConfig.ready().
Connectors translate only; `ingest.orders_upsert` does the writing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from django.db import transaction

from opiekun.core.registry import Registry
from opiekun.webhooks.registry import Accepted, Incoming

from ..records import Malformed, OrderRecord, ShipmentRecord

if TYPE_CHECKING:
    from opiekun.webhooks.models import Delivery, Endpoint

    from ..models import Connector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One page of the catch-up: its orders and the cursor to save once they are stored."""

    records: list[OrderRecord]
    cursor: dict[str, Any]


class Platform(Protocol):
    name: str  # a commerce.models.Platform value, also the webhook source's name
    credential_fields: tuple[str, ...]  # what the admin enters (sealed in Connector.credentials)

    def records(self, delivery: Delivery) -> list[OrderRecord]:
        """The orders in one stored webhook (pure); raises Malformed."""
        ...

    def pages(self, connector: Connector, http: ApiClient) -> Iterator[Page]:
        """The catch-up from `connector.cursor`, page by page; ApiError when the platform stays away."""
        ...


platforms: Registry[Platform] = Registry("shop platform")


# --- webhook sources ------------------------------------------------------------------------------


def canonical_key(topic: str, resource: Any) -> str:
    """De-duplication by content: the same resource in the same state on the same topic is one event."""
    canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{topic}\n{canonical}".encode()).hexdigest()


# What a normaliser may raise on a payload it cannot read (a quantity that is not a number, a list
# where an object belongs): besides Malformed, the errors of Python's own conversions.
UNREADABLE = (Malformed, ValueError, TypeError, KeyError, AttributeError, ArithmeticError)


class OrderSource:
    """A webhook source over a platform: verify is the platform's; process writes through ingest."""

    def __init__(self, platform: Platform, verify: Callable[[Incoming], Accepted]) -> None:
        self.name = platform.name
        self._platform = platform
        self._verify = verify

    def verify(self, incoming: Incoming) -> Accepted:
        return self._verify(incoming)

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        from ..ingest import orders_upsert
        from ..selectors import connector_for_endpoint

        connector = connector_for_endpoint(endpoint)
        if connector is None:
            for delivery in deliveries:
                delivery.error = "no connector uses this endpoint"
            return
        records: list[OrderRecord] = []
        shipments: list[tuple[str, ShipmentRecord, Delivery]] = []
        read_shipments = getattr(self._platform, "shipments", None)
        for delivery in deliveries:
            try:
                records += self._platform.records(delivery)
                if read_shipments is not None:
                    shipments += [(order_id, s, delivery) for order_id, s in read_shipments(delivery)]
            except UNREADABLE as exc:  # one unreadable payload is set aside, the batch goes on
                delivery.error = f"malformed: {exc}"[:2000]
        orders_upsert(connector=connector, records=records)
        if shipments:
            from ..ingest import shipments_upsert

            missing = set(shipments_upsert(connector=connector, updates=[(o, s) for o, s, _ in shipments]))
            for order_id, _record, delivery in shipments:
                if order_id in missing:  # kept with the reason; the catch-up brings the order and its parcel
                    delivery.error = f"order {order_id} is not mirrored yet"
        if getattr(self._platform, "nudge", False) and any(not d.error for d in deliveries):
            from ..tasks import sync_soon

            connector_id = connector.pk
            transaction.on_commit(lambda: sync_soon(connector_id))


# --- API clients ----------------------------------------------------------------------------------


class ApiError(Exception):
    """The platform refused or stayed away after the retries; the cursor keeps what was done."""


@dataclass
class ApiClient:
    """httpx with the retry policy every platform needs: 429 waits Retry-After, 5xx and network errors
    back off exponentially, both a bounded number of times. `sleep` is replaceable for tests."""

    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))
    attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    waited: float = 0.0
    retries: int = 0

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
                delay = self._backoff(attempt)
            else:
                if response.status_code == 429:
                    reason = "429 Too Many Requests"
                    delay = self._retry_after(response) or self._backoff(attempt)
                elif response.status_code >= 500:
                    reason = f"{response.status_code} {response.reason_phrase}"
                    delay = self._backoff(attempt)
                elif response.status_code >= 400:
                    raise ApiError(f"{response.status_code} {response.reason_phrase}: {response.text[:200]}")
                else:
                    return response
            if attempt == self.attempts:
                raise ApiError(f"gave up after {attempt} attempts: {reason}")
            self.wait(delay, reason)
        raise AssertionError("unreachable")

    def wait(self, delay: float, reason: str) -> None:
        log.info("platform API: %s, waiting %.1f s", reason, delay)
        self.retries += 1
        self.waited += delay
        self.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("Retry-After", "")
        try:
            return min(self.max_delay, max(0.0, float(value)))
        except ValueError:
            return None

    def close(self) -> None:
        self.client.close()
