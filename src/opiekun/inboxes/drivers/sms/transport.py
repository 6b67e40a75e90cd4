"""HTTP for the SMS providers: one request, its outcome sorted into sent / try again / failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any  # the decoded JSON body, or None
    retry_after: str = ""


class Unreachable(Exception):
    """No answer (timeout, refused connection): a transient error."""


def post(url: str, **kwargs: Any) -> Reply:
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.post(url, **kwargs)
    except httpx.TimeoutException:
        raise Unreachable("the SMS provider did not answer in time") from None
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach the SMS provider ({type(exc).__name__})") from None
    try:
        data = response.json()
    except ValueError:
        data = None
    return Reply(response.status_code, data, response.headers.get("Retry-After", ""))
