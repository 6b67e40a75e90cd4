"""What a webhook source is: it verifies a request without touching the database, and later processes
what was stored. Sources (a shop platform, a phone provider) register here in their app's ready()."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from opiekun.core.registry import Registry

if TYPE_CHECKING:
    from .models import Delivery, Endpoint


@dataclass(frozen=True)
class Incoming:
    """One request as the intake received it. `headers` is case-insensitive; `form` is the parsed
    `application/x-www-form-urlencoded` body (empty otherwise); `url` is absolute, as the caller saw it."""

    url: str
    method: str
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, list[str]] = field(default_factory=dict)
    secret: str = ""


@dataclass(frozen=True)
class Accepted:
    """An authentic request: `key` de-duplicates it (unique per endpoint), `topic` says what it is."""

    key: str
    topic: str = ""
    keep_headers: tuple[str, ...] = ()
    answer: bytes = b""
    content_type: str = "text/plain"
    store: bool = True  # False: answer 200 and store nothing (a platform's ping)


class Rejected(Exception):
    """Raised by `Source.verify`: the intake answers `status` with `reason` and stores nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Source(Protocol):
    name: str
    # Optional: `methods = ("GET", "POST")` for a provider that calls with GET (the query string is then
    # the body and the form); POST only when absent.

    def verify(self, incoming: Incoming) -> Accepted:
        """Check the signature and the shape; pure (no database). Raises `Rejected`."""
        ...

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        """Turn stored deliveries (one endpoint, oldest first) into domain records; idempotent.

        Runs inside the transaction that marks them processed. Set `delivery.error` on one it skips;
        raise to have the batch retried."""
        ...


sources: Registry[Source] = Registry("webhook source")
