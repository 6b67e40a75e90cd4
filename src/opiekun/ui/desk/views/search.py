"""Search across the shop's messages: full-text when `conversations.search` exists, else the quick search."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from opiekun.agents.models import Agent
from opiekun.conversations.selectors import Filters, conversation_list, conversation_snippets

from .guard import agent_view
from .inbox import filters_from, shell_context
from .present import list_rows, short_when


@dataclass(frozen=True)
class Hit:
    number: int | None
    subject: str
    contact: str
    snippet: str
    when: str


def _full_text() -> Any:
    """The full-text search function, or None while that module is not there (another part of Opiekun)."""
    try:
        module = importlib.import_module("opiekun.conversations.search")
    except ImportError:
        return None
    return getattr(module, "search_messages", None)


def _hit(raw: Any) -> Hit | None:
    """Accept what the search returns: a Message, or an object/dict naming its message or conversation."""
    get = raw.get if isinstance(raw, dict) else (lambda k, d=None: getattr(raw, k, d))
    message = get("message")
    if message is None and hasattr(raw, "conversation") and hasattr(raw, "text"):
        message = raw
    conversation = get("conversation") or (
        getattr(message, "conversation", None) if message is not None else None
    )
    number = get("conversation_number") or get("number") or getattr(conversation, "number", None)
    if number is None:
        return None
    snippet = (
        get("snippet") or get("headline") or (getattr(message, "text", "") if message is not None else "")
    )
    at = (
        get("created_at")
        or getattr(message, "created_at", None)
        or getattr(conversation, "last_message_at", None)
    )
    contact = get("contact_name") or (
        getattr(getattr(conversation, "contact", None), "name", "") if conversation is not None else ""
    )
    return Hit(
        int(number),
        get("subject") or getattr(conversation, "subject", "") or "",
        contact or "",
        " ".join(str(snippet).split())[:240],
        short_when(at) if at else "",
    )


@require_GET
@agent_view
def search_view(request: HttpRequest) -> HttpResponse:
    """Messages matching the query in the agent's shop (reads only that shop)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    query = request.GET.get("q", "").strip()[:200]
    ctx = shell_context(request, filters_from(request))
    ctx.update({"q": query, "hits": [], "rows": [], "full_text": False, "search_page": True})
    for item in ctx["nav"]:
        item["active"] = False
    if query:
        search_messages = _full_text()
        if search_messages is not None:
            ctx["full_text"] = True
            raw = search_messages(shop_id=agent.shop_id, query=query, limit=50)
            ctx["hits"] = [h for h in (_hit(r) for r in raw) if h is not None]
        else:
            conversations = conversation_list(agent=agent, filters=Filters(view="all", q=query), limit=50)
            ctx["rows"] = list_rows(
                conversations, conversation_snippets(conversation_ids=[c.pk for c in conversations])
            )
    return render(request, "desk/search.html", ctx)
