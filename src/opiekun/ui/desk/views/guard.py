"""Who may use the desk: a logged-in user with an Agent profile; every view goes through `agent_view`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from opiekun.agents.models import Agent
from opiekun.core.errors import NotFound


class DeskRequest(HttpRequest):
    agent: Agent


# user.agent (reverse one-to-one) and agent.shop, as select_related leaves them on the instances.
_USER_AGENT: Any = Agent._meta.get_field("user").remote_field
_AGENT_SHOP: Any = Agent._meta.get_field("shop")


def agent_of(user: Any) -> Agent | None:
    """The active user's agent profile with its shop, or None: no query when the sign-in backend
    (backends.DeskBackend) loaded them with the user for this request, else one."""
    if not user.is_authenticated or not user.is_active:
        return None
    if _USER_AGENT.is_cached(user):
        agent = _USER_AGENT.get_cached_value(user)
        if agent is None or _AGENT_SHOP.is_cached(agent):
            return agent
    return Agent.objects.select_related("shop", "user").filter(user_id=user.pk).first()


def agent_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required (redirect), an Agent profile required (403); NotFound from access_* becomes 404."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        agent = agent_of(request.user)
        if agent is None:
            raise PermissionDenied
        request.agent = agent  # type: ignore[attr-defined]
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return wrapper


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None
