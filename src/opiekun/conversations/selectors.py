"""Reads on conversations: the inbox views with their counts, one conversation, the customer timeline.

Every read takes the shop (or an agent, which carries it); fetching by id goes through access_*,
which answers NotFound for another shop's id exactly as for a missing one.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import BooleanField, Count, F, Func, Prefetch, Q, QuerySet

from opiekun.agents.models import Agent
from opiekun.core import clock
from opiekun.core.errors import NotFound

from . import listcache
from .models import OPEN_STATUSES, SLA_STATUSES, Attachment, Conversation, Event, Macro, Message, Status

SLA_RISK_WINDOW = dt.timedelta(hours=1)

VIEWS = (
    "mine",
    "my_customers",
    "unassigned",
    "open",
    "pending_customer",
    "pending_internal",
    "sla_risk",
    "resolved",
    "all",
)
SORTS: dict[str, tuple] = {  # type: ignore[type-arg]
    "recent": ("-last_message_at", "-id"),
    "oldest": ("last_message_at", "id"),
    "sla": (F("sla_due_at").asc(nulls_last=True), "-id"),
    "priority": ("-priority", "-last_message_at", "-id"),
    "number": ("-number",),
}


@dataclass(frozen=True)
class Filters:
    view: str = "mine"
    team_id: int | None = None
    status: str = ""
    priority: int | None = None
    channel: str = ""
    tag: str = ""
    assignee_id: int | None = None
    q: str = ""
    sort: str = "recent"


class LiteralIn(Func):
    """`column IN ('a', 'b')` with our own constant values written into the SQL instead of bound.

    SQLite uses a partial index (conv_open_recent, conv_done_recent…) only when the query names the
    same literal values as the index's WHERE; with bound parameters it silently falls back to sorting
    every row of the shop (bench/desk_queries.py: 250 ms instead of 0.1 ms at 100k cases).
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, values: tuple[str, ...]) -> None:
        if not all(isinstance(v, str) and v.replace("_", "").isalnum() and v.isascii() for v in values):
            raise ValueError("LiteralIn takes code constants only, never user input")
        self.values = tuple(str(v) for v in values)
        super().__init__(F(column))

    def as_sql(self, compiler, connection, **extra_context):  # type: ignore[no-untyped-def, override]
        sql, params = compiler.compile(self.source_expressions[0])
        return f"{sql} IN ({', '.join(repr(v) for v in self.values)})", params


def _open() -> LiteralIn:
    return LiteralIn("status", tuple(OPEN_STATUSES))


def _view_q(agent: Agent, view: str, team_id: int | None, now: dt.datetime) -> Q:
    open_q = Q(_open())
    if team_id is not None:
        return open_q & Q(team_id=team_id)
    match view:
        case "mine":
            return open_q & Q(assignee=agent)
        case "my_customers":
            return open_q & Q(caretaker=agent)
        case "unassigned":
            return open_q & Q(assignee__isnull=True)
        case "open":
            return open_q
        case "pending_customer" | "pending_internal":
            return Q(status=view)
        case "sla_risk":
            # Literal, so the list walks conv_sla_recent / conv_sla_order in order (no sort of the backlog).
            return Q(LiteralIn("status", SLA_STATUSES), sla_due_at__lte=now + SLA_RISK_WINDOW)
        case "resolved":
            return Q(LiteralIn("status", (Status.RESOLVED, Status.CLOSED)), merged_into__isnull=True)
        case "all":
            return Q(merged_into__isnull=True)
    raise NotFound("Unknown view.")


AGENT_VIEWS = ("mine", "my_customers")


def conversation_list(
    *,
    agent: Agent | None,
    filters: Filters,
    shop_id: int | None = None,
    contact_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> list[Conversation]:
    """One page of an inbox view, newest activity first by default; 3 queries whatever the page size.

    The desk passes its agent; an integration (API token) passes only `shop_id`, and the views that
    are relative to an agent ("mine", "my customers") are then NotFound like an unknown view.
    `now` (default: the clock) places the SLA-at-risk window; a remembered list passes its time bucket.
    """
    if agent is None and filters.team_id is None and filters.view in AGENT_VIEWS:
        raise NotFound("Unknown view.")
    shop_id = agent.shop_id if agent is not None else shop_id
    if shop_id is None:
        raise NotFound()
    now = now or clock.now()
    qs = Conversation.objects.filter(shop_id=shop_id).filter(
        _view_q(agent, filters.view, filters.team_id, now)  # type: ignore[arg-type]  # None only off AGENT_VIEWS
    )
    if contact_id is not None:
        qs = qs.filter(contact_id=contact_id)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.priority is not None:
        qs = qs.filter(priority=filters.priority)
    if filters.channel:
        qs = qs.filter(inbox__kind=filters.channel)
    if filters.tag:
        qs = qs.filter(tags__name=filters.tag.lower())
    if filters.assignee_id is not None:
        qs = qs.filter(assignee_id=filters.assignee_id)
    if filters.q:
        qs = _quick_search(qs, filters.q)
    qs = qs.order_by(*SORTS.get(filters.sort, SORTS["recent"]))  # type: ignore[arg-type]
    return list(
        qs.select_related("contact", "assignee", "team", "inbox").prefetch_related("tags")[
            offset : offset + limit
        ]
    )


def _quick_search(qs: QuerySet[Conversation], q: str) -> QuerySet[Conversation]:
    """The list's search box: a case number, or words in the subject or the contact's name/address."""
    q = q.strip()
    digits = q.lstrip("#")
    # ASCII digits only ("²".isdigit() is true) and within the column's range.
    if digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return qs.filter(number=int(digits))
    return qs.filter(
        Q(subject__icontains=q) | Q(contact__name__icontains=q) | Q(contact__identities__value__icontains=q)
    ).distinct()


@dataclass
class ViewCounts:
    """Counts for the desk's navigation; `teams` maps team id → open conversations."""

    mine: int = 0
    my_customers: int = 0
    unassigned: int = 0
    open: int = 0
    pending_customer: int = 0
    pending_internal: int = 0
    sla_risk: int = 0
    teams: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        data = {
            k: getattr(self, k)
            for k in (
                "mine",
                "my_customers",
                "unassigned",
                "open",
                "pending_customer",
                "pending_internal",
                "sla_risk",
            )
        }
        data.update({f"team_{k}": v for k, v in self.teams.items()})
        return data


@dataclass(frozen=True)
class ShopCounts:
    """The grouped open-conversation counts of one shop, from which every agent's ViewCounts is derived.

    Computed once per change and pushed to every desk (never re-queried by each socket).
    """

    rows: tuple[
        tuple[int | None, int | None, int | None, str, int], ...
    ]  # assignee, team, caretaker, status, n
    sla_risk: int

    def for_agent(self, agent_id: int) -> ViewCounts:
        counts = ViewCounts(sla_risk=self.sla_risk)
        teams: Counter[int] = Counter()
        for assignee, team, caretaker, status, n in self.rows:
            counts.open += n
            if assignee == agent_id:
                counts.mine += n
            if caretaker == agent_id:
                counts.my_customers += n
            if assignee is None:
                counts.unassigned += n
            if status == Status.PENDING_CUSTOMER:
                counts.pending_customer += n
            elif status == Status.PENDING_INTERNAL:
                counts.pending_internal += n
            if team is not None:
                teams[team] += n
        counts.teams = dict(teams)
        return counts


def shop_counts(*, shop_id: int, list_version: int | None = None) -> ShopCounts:
    """Two queries over the open conversations of the shop (fresh); remembered for the cached readers.

    `list_version`: the shop's list version as the caller read it (else one more query reads it).
    """
    return _shop_counts(shop_id, list_version)


def _shop_counts(shop_id: int, list_version: int | None) -> ShopCounts:
    version = _counts_version(shop_id, list_version)
    now = clock.now()
    # An index-only walk of conv_open_counts, grouped in its own order (no sort, nothing joined).
    rows = (
        Conversation.objects.filter(_open(), shop_id=shop_id)
        .values_list("assignee_id", "team_id", "caretaker_id", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    sla = Conversation.objects.filter(
        shop_id=shop_id,
        status__in=SLA_STATUSES,
        sla_due_at__lte=now + SLA_RISK_WINDOW,
    ).count()
    counts = ShopCounts(rows=tuple(rows), sla_risk=sla)
    # Stored under the version read BEFORE counting: a change committed meanwhile moved the version on,
    # so these (possibly older) counts are never served for it.
    cache.set(_counts_key(shop_id, version), counts, COUNTS_CACHE_SECONDS)
    return counts


# Counts are pushed, not pulled (DESIGN.md): the fan-out computes them once per change and every other
# reader (the list fragment each desk re-fetches on every event, the inbox page) takes the remembered
# value instead of counting again. The key holds the shop's list version (Shop.list_version), moved on
# by every change a count can see — a new, merged or closed case, a status, assignee, team or caretaker
# — in the change's own transaction, and read from the database, so every process agrees without
# telling the others. The age limit bounds what no change announces (the SLA window moving with the
# clock, edits in the Django admin).
COUNTS_CACHE_SECONDS = 30


def _counts_version(shop_id: int, list_version: int | None = None) -> int:
    return listcache.list_version(shop_id=shop_id) if list_version is None else list_version


def _counts_key(shop_id: int, version: int) -> str:
    return f"opiekun:shop-counts:{shop_id}:{version}"


def view_counts(*, agent: Agent, cached: bool = False) -> ViewCounts:
    """The agent's navigation counts; `cached=True` for readers that must not count per request.

    The shop's list version comes from `agent.shop` as loaded with the agent (the desk loads it fresh
    per request), so a change made by another process is never answered with older counts.
    """
    list_version = _loaded_list_version(agent)
    if not cached:
        return _shop_counts(agent.shop_id, list_version).for_agent(agent.pk)
    # The agent's own share is remembered too: deriving it walks every group of the shop's open cases
    # (thousands at 15k open cases, ~2 ms) and the shop's counts are a large value to unpickle.
    version = _counts_version(agent.shop_id, list_version)
    key = f"opiekun:agent-counts:{agent.shop_id}:{version}:{agent.pk}"
    mine = cache.get(key)
    if isinstance(mine, ViewCounts):
        return mine
    counts = cache.get(_counts_key(agent.shop_id, version))
    if not isinstance(counts, ShopCounts):
        counts = _shop_counts(agent.shop_id, version)
    mine = counts.for_agent(agent.pk)
    cache.set(key, mine, COUNTS_CACHE_SECONDS)
    return mine


def _loaded_list_version(agent: Agent) -> int | None:
    """The list version of the agent's shop if the shop row came with the agent, else None (read it)."""
    shop_field: Any = Agent._meta.get_field("shop")
    shop = shop_field.get_cached_value(agent, default=None)
    return None if shop is None else int(shop.list_version)


def access_conversation(
    *, agent: Agent, number: int | None = None, conversation_id: int | None = None
) -> Conversation:
    """The agent's shop's conversation by number or id, or NotFound; with its contact, team, inbox, shop,
    assignee and the contact's caretakers loaded (two queries).

    The agents come in a second query: joining the agents table three times more made PostgreSQL spend
    ~5 ms planning a 0.3 ms query (bench/desk_queries.py, open.access_conversation); the shop is the
    agent's own when the agent carries it.
    """
    qs = Conversation.objects.filter(shop_id=agent.shop_id).select_related("contact", "team", "inbox")
    if number is not None:
        qs = qs.filter(number=number)
    elif conversation_id is not None:
        qs = qs.filter(pk=conversation_id)
    else:
        raise NotFound()
    conversation = next(iter(qs.order_by()[:1]), None)
    if conversation is None:
        raise NotFound()
    if Agent.shop.is_cached(agent):  # type: ignore[attr-defined]
        _remember(conversation, "shop", agent.shop)
    contact = conversation.contact
    wanted = {conversation.assignee_id, contact.caretaker_id, contact.backup_caretaker_id} - {None}
    agents = Agent.objects.in_bulk(wanted) if wanted else {}
    _remember(conversation, "assignee", agents.get(conversation.assignee_id))  # type: ignore[arg-type]
    _remember(contact, "caretaker", agents.get(contact.caretaker_id))  # type: ignore[arg-type]
    _remember(contact, "backup_caretaker", agents.get(contact.backup_caretaker_id))  # type: ignore[arg-type]
    return conversation


def _remember(obj: Any, field: str, value: Any) -> None:
    """Put a related object loaded separately where select_related would have (the id is left as it is)."""
    obj._meta.get_field(field).set_cached_value(obj, value)


def conversation_messages(*, conversation: Conversation, include_internal: bool = True) -> list[Message]:
    qs = conversation.messages.select_related("author_agent", "author_contact").prefetch_related(
        Prefetch("attachments", queryset=Attachment.objects.order_by("id"))
    )
    if not include_internal:
        qs = qs.filter(is_internal=False)
    return list(qs.order_by("created_at", "id"))


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # "message" or "event"
    conversation_number: int | None
    message: Message | None = None
    event: Event | None = None


def contact_timeline(*, shop_id: int, contact_id: int, limit: int = 100) -> list[TimelineEntry]:
    """The customer's whole story across conversations and channels, newest first."""
    messages = (
        Message.objects.filter(shop_id=shop_id, conversation__contact_id=contact_id)
        .select_related("author_agent", "conversation")
        .order_by("-created_at", "-id")[:limit]
    )
    events = (
        Event.objects.filter(shop_id=shop_id, contact_id=contact_id)
        .select_related("actor", "conversation")
        .order_by("-created_at", "-id")[:limit]
    )
    entries = [TimelineEntry(m.created_at, "message", m.conversation.number, message=m) for m in messages]
    entries += [
        TimelineEntry(e.created_at, "event", e.conversation.number if e.conversation else None, event=e)
        for e in events
    ]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def contact_conversations(*, shop_id: int, contact_id: int, limit: int = 50) -> list[Conversation]:
    return list(
        Conversation.objects.filter(shop_id=shop_id, contact_id=contact_id, merged_into__isnull=True)
        .select_related("assignee", "inbox")
        .order_by("-last_message_at")[:limit]
    )


def access_attachment(
    *, shop_id: int, attachment_id: int, contact_id: int | None = None, include_internal: bool = True
) -> Attachment:
    """An attachment of this shop (and, for the portal, of this contact's public messages), or NotFound."""
    qs = Attachment.objects.filter(shop_id=shop_id, pk=attachment_id).select_related("message")
    if contact_id is not None:
        qs = qs.filter(message__conversation__contact_id=contact_id)
    if not include_internal:
        qs = qs.filter(message__is_internal=False)
    attachment = qs.first()
    if attachment is None:
        raise NotFound()
    return attachment


# --- Reads the agent desk needs (added with the desk) ---------------------------------------------


def conversation_thread(*, conversation: Conversation) -> list[TimelineEntry]:
    """Messages (with attachments and authors) and timeline events of one case, oldest first; 3 queries."""
    messages = conversation_messages(conversation=conversation)
    events = list(conversation.events.select_related("actor").order_by("created_at", "id"))
    entries = [TimelineEntry(m.created_at, "message", conversation.number, message=m) for m in messages]
    entries += [TimelineEntry(e.created_at, "event", conversation.number, event=e) for e in events]
    # Stable: at the same instant the message comes before the events it caused.
    entries.sort(key=lambda e: (e.at, 0 if e.kind == "message" else 1))
    return entries


@dataclass(frozen=True)
class Snippet:
    text: str
    channel: str
    direction: str


def conversation_snippets(*, conversation_ids: list[int], length: int = 160) -> dict[int, Snippet]:
    """The last public message of each listed case (text start, channel, direction) in ONE query."""
    from django.db.models import OuterRef, Subquery
    from django.db.models.functions import Substr

    if not conversation_ids:
        return {}
    last = Message.objects.filter(conversation=OuterRef("pk"), is_internal=False).order_by(
        "-created_at", "-id"
    )
    rows = (
        Conversation.objects.filter(pk__in=conversation_ids)
        .annotate(
            s_text=Subquery(last.annotate(t=Substr("text", 1, length)).values("t")[:1]),
            s_channel=Subquery(last.values("channel")[:1]),
            s_direction=Subquery(last.values("direction")[:1]),
        )
        .values_list("pk", "s_text", "s_channel", "s_direction")
    )
    return {pk: Snippet(text or "", channel or "", direction or "") for pk, text, channel, direction in rows}


def tags_of_shop(*, shop_id: int) -> list[str]:
    from .models import Tag

    return list(Tag.objects.filter(shop_id=shop_id).order_by("name").values_list("name", flat=True))


def macros_of_shop(*, shop_id: int) -> list[Macro]:
    """The shop's canned replies, by name (the desk shows the agent's language first)."""
    return list(Macro.objects.filter(shop_id=shop_id).order_by("name"))


def access_macro(*, shop_id: int, macro_id: int) -> Macro:
    macro = Macro.objects.filter(shop_id=shop_id, pk=macro_id).first()
    if macro is None:
        raise NotFound()
    return macro
