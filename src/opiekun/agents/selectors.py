"""Reads about agents: who is away, who can take more work."""

from __future__ import annotations

import datetime as dt

from opiekun.core import clock
from opiekun.core.errors import NotFound
from opiekun.shops.models import Shop

from .models import Absence, Agent, Team


def agent_is_absent(*, agent: Agent, at: dt.datetime | None = None) -> bool:
    at = at or clock.now()
    return Absence.objects.filter(agent=agent, starts_at__lte=at, ends_at__gt=at).exists()


def agent_current_absence(*, agent: Agent, at: dt.datetime | None = None) -> Absence | None:
    at = at or clock.now()
    return Absence.objects.filter(agent=agent, starts_at__lte=at, ends_at__gt=at).first()


def agents_of_shop(*, shop: Shop) -> list[Agent]:
    return list(Agent.objects.filter(shop=shop, user__is_active=True).select_related("user"))


def teams_of_shop(*, shop: Shop) -> list[Team]:
    return list(Team.objects.filter(shop=shop))


def access_agent(*, shop: Shop | int, agent_id: int) -> Agent:
    """An agent of the same shop, or NotFound."""
    shop_id = shop if isinstance(shop, int) else shop.pk
    agent = Agent.objects.filter(shop_id=shop_id, pk=agent_id).select_related("user").first()
    if agent is None:
        raise NotFound()
    return agent


def access_team(*, shop: Shop | int, team_id: int) -> Team:
    shop_id = shop if isinstance(shop, int) else shop.pk
    team = Team.objects.filter(shop_id=shop_id, pk=team_id).first()
    if team is None:
        raise NotFound()
    return team
