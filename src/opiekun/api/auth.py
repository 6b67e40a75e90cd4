"""Who is calling: an integration with a bearer token, or an agent signed in to the desk (session + CSRF).

Either way the request resolves to a Caller: the shop every read and write is scoped to, and the agent
acting (None for a token: the shop's own integration acts, and the audit log names the token).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from opiekun.agents.models import Agent
from opiekun.core import ratelimit
from opiekun.shops.access import api_token_authenticate
from opiekun.shops.models import ApiToken, Shop

from .selectors import agent_for_user

# Requests per caller per window (seconds); generous for integrations, a ceiling against runaway loops.
DEFAULT_RATE_LIMIT = (1200, 60)


@dataclass(frozen=True)
class Caller:
    shop: Shop
    agent: Agent | None = None
    token: ApiToken | None = None


def caller(request: HttpRequest) -> Caller:
    """The Caller the auth classes below put on the request."""
    auth = getattr(request, "auth", None)
    assert isinstance(auth, Caller)
    return auth


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR when it is an IP address (the audit column is an inet on PostgreSQL)."""
    value = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _rate_limit(key: str) -> None:
    limit, window = getattr(settings, "OPIEKUN_API_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    ratelimit.hit(f"api:{key}", limit=limit, window=window)


class TokenAuth(HttpBearer):
    """`Authorization: Bearer opk_…` — the shop comes from the token."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        header = request.headers.get("Authorization") or ""
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != "bearer":
            return None  # no token offered: the session may still authenticate
        token = api_token_authenticate(key.strip())
        if token is None:
            # A token was offered and is wrong or revoked: refuse, never fall back to a browser session.
            raise AuthenticationError()
        _rate_limit(f"token:{token.pk}")
        return Caller(shop=token.shop, token=token)

    def authenticate(
        self, request: HttpRequest, token: str
    ) -> Caller | None:  # pragma: no cover - see __call__
        return None


class AgentSessionAuth(APIKeyCookie):
    """The desk's own session: a signed-in user with an agent profile; unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Caller | None:
        if "\x00" in request.COOKIES.get(self.param_name, ""):
            # PostgreSQL refuses NUL in the session lookup (a 500); no real session key has one.
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        agent = agent_for_user(user)
        if agent is None:
            return None
        # Checked only once we know a session would authenticate, so anonymous calls get 401, not 403.
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise HttpError(
                403, _("CSRF check failed: send the X-CSRFToken header with the csrftoken cookie.")
            )
        _rate_limit(f"agent:{agent.pk}")
        return Caller(shop=agent.shop, agent=agent)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:  # pragma: no cover
        return None
