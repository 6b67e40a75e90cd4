"""The inbox: navigation with counts, the conversation list with filters/sort/search, and its fragment."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from opiekun.agents.models import Agent
from opiekun.agents.selectors import teams_of_shop
from opiekun.conversations.models import ChannelKind, Priority, Status
from opiekun.conversations.selectors import (
    conversation_list,
    conversation_snippets,
    tags_of_shop,
    view_counts,
)

from ..forms import SORT_CHOICES, FiltersForm
from .guard import agent_view
from .present import CHANNEL_ICONS, list_rows

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def view_titles() -> dict[str, str]:
    return {
        "mine": _("Mine"),
        "my_customers": _("My customers"),
        "unassigned": _("Unassigned"),
        "open": _("All open"),
        "pending_customer": _("Waiting on customer"),
        "pending_internal": _("Waiting internal"),
        "sla_risk": _("SLA at risk"),
        "resolved": _("Resolved"),
        "all": _("All conversations"),
    }


def nav_views() -> list[tuple[str, str, str]]:
    """(view, title, icon) in the order of the navigation."""
    titles = view_titles()
    icons = {
        "mine": "i-user",
        "my_customers": "i-heart",
        "unassigned": "i-inbox",
        "open": "i-layers",
        "pending_customer": "i-clock",
        "pending_internal": "i-building",
        "sla_risk": "i-alert",
        "resolved": "i-check",
        "all": "i-archive",
    }
    return [(v, titles[v], icons[v]) for v in titles]


def shell_context(request: HttpRequest, form: FiltersForm) -> dict[str, Any]:
    """What every desk page around the content needs: the agent, the navigation with counts (3 queries)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    counts = view_counts(agent=agent, cached=True).as_dict()
    teams = teams_of_shop(shop=agent.shop)
    color = agent.shop.brand_color if _COLOR.match(agent.shop.brand_color or "") else "#2f6f4f"
    team_id = form.value("team")
    current = "" if team_id else str(form.value("view") or "mine")
    inbox_url = reverse("desk:inbox")
    nav = [
        {
            "key": v,
            "title": title,
            "icon": icon,
            "count": counts.get(v),
            "active": v == current,
            "url": f"{inbox_url}?view={v}",
        }
        for v, title, icon in nav_views()
    ]
    team_nav = [
        {
            "key": f"team_{t.pk}",
            "title": t.name,
            "count": counts.get(f"team_{t.pk}", 0),
            "active": team_id == t.pk,
            "url": f"{inbox_url}?team={t.pk}",
        }
        for t in teams
    ]
    return {
        "agent": agent,
        "shop": agent.shop,
        "brand_color": color,
        "counts": counts,
        "nav": nav,
        "team_nav": team_nav,
        "teams": teams,
        "current_view": current,
    }


def list_context(
    request: HttpRequest, form: FiltersForm, *, open_number: int | None = None, teams: list[Any] | None = None
) -> dict[str, Any]:
    """One page of the list with snippets (5 queries whatever the page size)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    filters = form.filters()
    limit = form.page_size()
    conversations = conversation_list(agent=agent, filters=filters, limit=limit + 1)
    has_more = len(conversations) > limit
    conversations = conversations[:limit]
    snippets = conversation_snippets(conversation_ids=[c.pk for c in conversations])
    if filters.team_id is not None:
        team_names = {t.pk: t.name for t in (teams if teams is not None else teams_of_shop(shop=agent.shop))}
        title = team_names.get(filters.team_id, _("Team"))
    else:
        title = view_titles().get(filters.view, _("Conversations"))
    query = form.query()
    list_qs = urlencode(query)
    active_filters = [k for k in ("status", "priority", "channel", "tag", "assignee") if query.get(k)]
    chips = []
    if filters.status:
        chips.append(str(Status(filters.status).label))
    if filters.channel:
        chips.append(str(ChannelKind(filters.channel).label))
    if filters.priority is not None:
        chips.append(str(Priority(filters.priority).label))
    if filters.tag:
        chips.append("#" + filters.tag)
    return {
        "rows": list_rows(conversations, snippets),
        "has_more": has_more,
        "filters": filters,
        "list_title": title,
        "list_qs": list_qs,
        "more_qs": urlencode(form.query(limit=limit + 50)),
        "query": query,
        "open_number": open_number,
        "active_filters": active_filters,
        "filter_chips": chips,
        "sort_choices": SORT_CHOICES,
        "status_choices": Status.choices,
        "priority_choices": Priority.choices,
        "channel_choices": [(k, label, CHANNEL_ICONS.get(k, "i-chat")) for k, label in ChannelKind.choices],
        "shop_tags": tags_of_shop(shop_id=agent.shop_id),
        "base_qs": urlencode({k: v for k, v in query.items() if k in ("view", "team")}),
    }


def filters_from(request: HttpRequest) -> FiltersForm:
    return FiltersForm.parse(request.GET)


def filters_from_qs(qs: str) -> FiltersForm:
    """Filters carried in a form's hidden `_qs` (non-JS actions come back to the same list)."""
    return FiltersForm.parse(QueryDict(qs[:2000]))


@require_GET
@agent_view
def inbox_view(request: HttpRequest) -> HttpResponse:
    """The three-pane desk with no conversation open."""
    form = filters_from(request)
    ctx = shell_context(request, form)
    ctx.update(list_context(request, form, teams=ctx["teams"]))
    return render(request, "desk/inbox.html", ctx)


@require_GET
@agent_view
def list_view(request: HttpRequest) -> HttpResponse:
    """The list fragment (the whole #conversation-list element) plus the nav counts out of band."""
    form = filters_from(request)
    agent: Agent = request.agent  # type: ignore[attr-defined]
    ctx = list_context(request, form)
    # A refresh caused by a live event gets its counts pushed over the socket (computed once per shop);
    # recomputing them here would make every open desk re-query counts on every event.
    ctx["oob"] = request.headers.get("X-Opiekun-Live") != "1"
    if ctx["oob"]:
        ctx["counts"] = view_counts(agent=agent, cached=True).as_dict()
    response = render(request, "desk/_list.html", ctx)
    if request.headers.get("HX-Trigger") == "list-tools":
        # The filter form changed the list: keep the address bar (and a reload) in step, on whatever page.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        path = current.path if current.path.startswith("/") else reverse("desk:inbox")
        response["HX-Push-Url"] = f"{path}?{ctx['list_qs']}" if ctx["list_qs"] else path
    return response
