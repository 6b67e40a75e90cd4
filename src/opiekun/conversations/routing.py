"""Who gets a new conversation: the caretaker, else the backup, else the inbox's team queue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opiekun.agents.models import Agent, Team
from opiekun.agents.selectors import agent_is_absent
from opiekun.core import clock

from .models import OPEN_STATUSES, Conversation


@dataclass(frozen=True)
class Route:
    assignee: Agent | None
    team: Team | None
    reason: str  # caretaker | backup | queue


def agent_has_room(agent: Agent) -> bool:
    if not agent.capacity:
        return True
    load = Conversation.objects.filter(assignee=agent, status__in=OPEN_STATUSES).count()
    return load < agent.capacity


def agent_can_take(agent: Agent | None, at: dt.datetime) -> bool:
    return (
        agent is not None
        and agent.user.is_active
        and not agent_is_absent(agent=agent, at=at)
        and agent_has_room(agent)
    )


# Checks a channel adds (in its app's ready()) on whether an agent may be given a case without asking:
# each answers True, or False to leave the case unassigned. The live chat's maximum of chats per agent
# is one (livechat/services.py); conversations knows no channel, so the rule is handed in.
_auto_assign_checks: list[Callable[[Conversation, Agent], bool]] = []


def add_auto_assign_check(check: Callable[[Conversation, Agent], bool]) -> None:
    if check not in _auto_assign_checks:
        _auto_assign_checks.append(check)


def may_auto_assign(conversation: Conversation, agent: Agent) -> bool:
    """Whether a reply may make `agent` the assignee of the unassigned `conversation` (every check agrees)."""
    return all(check(conversation, agent) for check in _auto_assign_checks)


def route_new_conversation(*, contact: Any, team: Team | None, at: dt.datetime | None = None) -> Route:
    """Caretaker when present and not absent or over capacity, then the backup, then `team`'s queue."""
    at = at or clock.now()
    caretaker = contact.caretaker if contact.caretaker_id else None
    if agent_can_take(caretaker, at):
        return Route(caretaker, team, "caretaker")
    backup = contact.backup_caretaker if contact.backup_caretaker_id else None
    if agent_can_take(backup, at):
        return Route(backup, team, "backup")
    return Route(None, team, "queue")
