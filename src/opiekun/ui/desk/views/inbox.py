"""The inbox: navigation with counts, the conversation list with filters/sort/search, and its fragment."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib.messages import get_messages
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from opiekun.agents.models import Agent
from opiekun.agents.selectors import teams_of_shop
from opiekun.conversations.models import ChannelKind, Priority, Status
from opiekun.conversations.selectors import (
    AGENT_VIEWS,
    Filters,
    conversation_list,
    conversation_snippets,
    tags_of_shop,
    view_counts,
)
from opiekun.core import clock

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


# The rendered rows of a list (the 50 conversations: what most of a desk page costs) are remembered per
# process under a key that names everything they depend on (rows_key). Correctness across processes
# comes from the shop's list version in the key, read from the database with the agent on every
# request, not from the cache being shared: a change committed by any process moves it on.
ROWS_CACHE = "desk"
ROWS_CACHE_SECONDS = 120
# Bumped when the rows template or what goes into it changes (a shared cache may outlive a deploy).
ROWS_FORMAT = 1


def time_bucket(at: dt.datetime | None = None) -> dt.datetime:
    """The minute the rows are rendered for: relative times ('12 min'), SLA badges ('due in 5 min',
    overdue) and the SLA-at-risk window are computed at the start of the minute, so every render within
    it is the same and may be remembered until the minute ends (at most a minute behind the clock, the
    granularity the list shows anyway)."""
    return (at or clock.now()).replace(second=0, microsecond=0)


def rows_key(
    *, agent: Agent, filters: Filters, query: dict[str, str], open_number: int | None, bucket: dt.datetime
) -> str:
    """The cache key of one rendered list: shop and its list version, language, time zone and minute,
    the agent for the views relative to the agent, the open case, and every list parameter."""
    relative = filters.team_id is None and filters.view in AGENT_VIEWS
    params = urlencode(sorted(query.items()))
    digest = hashlib.sha256(params.encode()).hexdigest()[:32]
    return ":".join(
        (
            f"desk-rows{ROWS_FORMAT}",
            str(agent.shop_id),
            str(agent.shop.list_version),
            get_language() or "",
            timezone.get_current_timezone_name(),
            bucket.strftime("%Y%m%d%H%M"),
            str(agent.pk) if relative else "-",
            str(open_number or ""),
            digest,
        )
    )


def list_context(
    request: HttpRequest, form: FiltersForm, *, open_number: int | None = None, teams: list[Any] | None = None
) -> dict[str, Any]:
    """One page of the list: rendered rows from the cache, else 5 queries whatever the page size."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    filters = form.filters()
    limit = form.page_size()
    query = form.query()
    list_qs = urlencode(query)
    more_qs = urlencode(form.query(limit=limit + 50))
    bucket = time_bucket()
    key = rows_key(agent=agent, filters=filters, query=query, open_number=open_number, bucket=bucket)
    cache = caches[ROWS_CACHE]
    remembered = cache.get(key)
    rows: list[Any] | None = None
    if isinstance(remembered, tuple):
        html, has_more = remembered
        rows_html: SafeString = mark_safe(html)  # noqa: S308  # our own render, escaped when it was made
    else:
        conversations = conversation_list(agent=agent, filters=filters, limit=limit + 1, now=bucket)
        has_more = len(conversations) > limit
        conversations = conversations[:limit]
        snippets = conversation_snippets(conversation_ids=[c.pk for c in conversations])
        rows = list_rows(conversations, snippets, now=bucket)
        rows_html = render_to_string(
            "desk/_rows.html",
            {
                "rows": rows,
                "has_more": has_more,
                "list_qs": list_qs,
                "more_qs": more_qs,
                "open_number": open_number,
                "query": query,
            },
        )
        cache.set(key, (str(rows_html), has_more), ROWS_CACHE_SECONDS)
    if filters.team_id is not None:
        team_names = {t.pk: t.name for t in (teams if teams is not None else teams_of_shop(shop=agent.shop))}
        title = team_names.get(filters.team_id, _("Team"))
    else:
        title = view_titles().get(filters.view, _("Conversations"))
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
        "rows": rows,  # None when the rendered rows came from the cache
        "rows_html": rows_html,
        "has_more": has_more,
        "filters": filters,
        "list_title": title,
        "list_qs": list_qs,
        "more_qs": more_qs,
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


# The whole inbox page is remembered too, per agent (it shows the agent's name and counts), with the
# parts that belong to one request put in afterwards: the CSRF token (a random stand-in, never shown,
# is rendered and replaced) and the one-time messages (a page that has some is rendered afresh).
_CSRF_STAND_IN = "csrf" + secrets.token_hex(16)


def page_key(request: HttpRequest, *, agent: Agent, bucket: dt.datetime) -> str:
    """The cache key of one agent's inbox page: what rows_key names, plus the agent's and the shop's
    own looks (name, role, brand) and the exact address (the page links back to it)."""
    shop = agent.shop
    looks = "\x1f".join((agent.display_name, agent.role, shop.name, shop.brand_color or ""))
    digest = hashlib.sha256(f"{request.get_full_path()}\x1e{looks}".encode()).hexdigest()[:32]
    return ":".join(
        (
            f"desk-page{ROWS_FORMAT}",
            str(agent.shop_id),
            str(shop.list_version),
            str(agent.pk),
            get_language() or "",
            timezone.get_current_timezone_name(),
            bucket.strftime("%Y%m%d%H%M"),
            digest,
        )
    )


def _with_token(request: HttpRequest, html: str) -> HttpResponse:
    return HttpResponse(html.replace(_CSRF_STAND_IN, get_token(request)))


@require_GET
@agent_view
def inbox_view(request: HttpRequest) -> HttpResponse:
    """The three-pane desk with no conversation open (remembered per agent until the shop's lists change
    or the minute ends)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    cache = caches[ROWS_CACHE]
    key = None if len(get_messages(request)) else page_key(request, agent=agent, bucket=time_bucket())
    if key is not None:
        html = cache.get(key)
        if isinstance(html, str):
            return _with_token(request, html)
    form = filters_from(request)
    ctx = shell_context(request, form)
    ctx.update(list_context(request, form, teams=ctx["teams"]))
    if key is None:
        return render(request, "desk/inbox.html", ctx)
    ctx["csrf_token"] = _CSRF_STAND_IN
    html = render_to_string("desk/inbox.html", ctx, request)
    cache.set(key, html, ROWS_CACHE_SECONDS)
    return _with_token(request, html)


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
