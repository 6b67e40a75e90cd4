"""The HTTP calls providers' APIs get: a short timeout, and failures sorted into "try again" or "no"."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ProviderError(Exception):
    """A provider API call failed; `transient` says whether trying later may help (timeouts, 429, 5xx)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    json: object = None


def request(method: str, url: str, **kwargs: object) -> Answer:
    """One request; raises ProviderError with a reason an agent can read (no credentials in it)."""
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
            response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        raise ProviderError("the provider did not answer in time", transient=True) from None
    except httpx.HTTPError as exc:
        raise ProviderError(f"cannot reach the provider ({type(exc).__name__})", transient=True) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ProviderError(f"the provider answered {response.status_code}; will try again", transient=True)
    data: object = None
    if "json" in response.headers.get("content-type", ""):
        try:
            data = response.json()
        except ValueError:
            data = None
    if response.status_code >= 400:
        message = ""
        if isinstance(data, dict):
            message = str(data.get("message") or data.get("error") or data.get("detail") or "")
        raise ProviderError(
            f"the provider refused ({response.status_code}){': ' + message[:200] if message else ''}",
            transient=False,
        )
    return Answer(response.status_code, response.content, data)
