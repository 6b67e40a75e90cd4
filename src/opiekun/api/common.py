"""Small pieces the routers share: pages, address checks, references to agents/teams in a request body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from opiekun.agents.models import Agent, Team
from opiekun.agents.selectors import access_agent, access_team
from opiekun.contacts import normalise
from opiekun.contacts.models import Identity
from opiekun.contacts.normalise import Address
from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.shops.models import Shop

from .auth import Caller
from .schemas import PageParams


def page_of(rows: Sequence[Any], params: PageParams) -> dict[str, Any]:
    """The page envelope; `rows` was fetched with limit + 1 so we know whether another page follows."""
    more = len(rows) > params.limit
    return {
        "items": list(rows[: params.limit]),
        "limit": params.limit,
        "offset": params.offset,
        "next_offset": params.offset + params.limit if more else None,
    }


def normalised_address(kind: str, value: str, *, field: str = "value") -> str:
    """The canonical form of an address of `kind`; ValidationFailed on `field` when it is not one."""
    value = value.strip()
    if kind == Identity.Kind.EMAIL:
        try:
            return normalise.email(value)
        except ValueError:
            raise ValidationFailed(_("This is not a valid e-mail address."), field=field) from None
    if kind == Identity.Kind.PHONE:
        try:
            return normalise.phone(value)
        except ValueError:
            raise ValidationFailed(_("This is not a valid phone number."), field=field) from None
    if not value:
        raise ValidationFailed(_("This field is required."), field=field)
    return value


def addresses(*, email: str, phone: str) -> list[Address]:
    """The e-mail/phone of a request body, normalised; a malformed one is an error, never dropped."""
    found = []
    if email:
        found.append(
            Address(Identity.Kind.EMAIL, normalised_address(Identity.Kind.EMAIL, email, field="email"))
        )
    if phone:
        found.append(
            Address(Identity.Kind.PHONE, normalised_address(Identity.Kind.PHONE, phone, field="phone"))
        )
    return found


def agent_in_shop(shop: Shop, agent_id: int, *, field: str) -> Agent:
    """An agent named in a request body; another shop's id reads like a missing one (422 on `field`)."""
    try:
        return access_agent(shop=shop, agent_id=agent_id)
    except NotFound:
        raise ValidationFailed(_("There is no such agent in this shop."), field=field) from None


def team_in_shop(shop: Shop, team_id: int, *, field: str) -> Team:
    try:
        return access_team(shop=shop, team_id=team_id)
    except NotFound:
        raise ValidationFailed(_("There is no such team in this shop."), field=field) from None


def author(who: Caller, agent_id: int | None) -> Agent:
    """The agent a reply or note is written by: the signed-in agent, or for a token the named `agent_id`."""
    if who.agent is not None:
        if agent_id is not None and agent_id != who.agent.pk:
            raise ValidationFailed(_("Signed in, you can only write as yourself."), field="agent_id")
        return who.agent
    if agent_id is None:
        raise ValidationFailed(
            _("Name the agent who writes (agent_id) when calling with an API token."), field="agent_id"
        )
    agent = agent_in_shop(who.shop, agent_id, field="agent_id")
    if not agent.user.is_active:
        raise ValidationFailed(_("This agent's account is switched off."), field="agent_id")
    return agent
