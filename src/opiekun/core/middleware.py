"""Request hygiene that must run before Django's own middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class DropMalformedCookiesMiddleware:
    """Forget cookies whose value holds control characters (a NUL in the session cookie made the
    session lookup fail on PostgreSQL with a 500 on every page); the request goes on without them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = [k for k, v in request.COOKIES.items() if any(ord(ch) < 32 or ord(ch) == 127 for ch in k + v)]
        for key in bad:
            del request.COOKIES[key]
        return self.get_response(request)
