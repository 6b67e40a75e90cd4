"""The intake's own WSGI handler: `/hooks/…` without the site's middleware.

Platforms and providers are machines: no session, no CSRF token, no language, no messages, no
static files. Django's middleware stack was a third of a webhook's CPU time (bench/webhook_intake.py),
so requests under HOOKS_PREFIX go to a handler that keeps what matters — URL resolving, the
request_started/finished signals that manage database connections, ALLOWED_HOSTS (through
`build_absolute_uri`), and turning an exception into a 500 — and skips the rest. Everything else is
served by the full application.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase

HOOKS_PREFIX = "/hooks/"


class IntakeHandler(WSGIHandler):
    """A WSGIHandler whose middleware chain is empty."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        response = super().get_response(request)
        # What CommonMiddleware would add: a length, so the connection stays open for the next delivery
        # instead of a chunked answer.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))  # type: ignore[attr-defined]
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def with_lean_intake(site: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """`site` with the webhook paths answered by IntakeHandler (call after Django is set up)."""
    intake = IntakeHandler()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(HOOKS_PREFIX):
            return intake(environ, start_response)  # type: ignore[return-value]
        return site(environ, start_response)

    return application
