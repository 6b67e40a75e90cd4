"""Writes on agents: create, absences, and the audit trail every agent action leaves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import models, transaction

from opiekun.core.errors import ValidationFailed
from opiekun.shops.models import Shop

from .models import Absence, Agent, AuditLog, Team


def audit_record(
    *,
    actor: Agent | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    shop_id: int | None = None,
) -> AuditLog:
    """Append one AuditLog row: who did `action` to which object."""
    shop = shop_id or getattr(obj, "shop_id", None) or (actor.shop_id if actor else None)
    if shop is None:
        raise ValueError("an audit record needs a shop")
    return AuditLog.objects.create(
        shop_id=shop,
        actor=actor,
        action=action,
        object_type=obj._meta.model_name or "",
        object_id=str(obj.pk),
        data=data or {},
        ip=ip,
    )


def agent_create(
    *,
    shop: Shop,
    username: str,
    password: str,
    display_name: str,
    email: str = "",
    role: str = Agent.Role.AGENT,
    languages: list[str] | None = None,
    sender_email: str = "",
    signature: str = "",
    capacity: int = 0,
    validate: bool = True,
) -> Agent:
    """Create the Django user and its agent profile in `shop` (password hashed with argon2)."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(f"The login {username!r} is taken.", field="username")
    if validate:
        try:
            validate_password(password)
        except Exception as exc:  # django ValidationError carries a list of messages
            raise ValidationFailed(" ".join(getattr(exc, "messages", [str(exc)])), field="password") from None
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, email=email, password=password, is_staff=role == Agent.Role.ADMIN
        )
        return Agent.objects.create(
            user=user,
            shop=shop,
            display_name=display_name,
            role=role,
            languages=languages or [],
            sender_email=sender_email,
            signature=signature,
            capacity=capacity,
        )


def team_create(*, shop: Shop, name: str, members: list[Agent] = (), lead: Agent | None = None) -> Team:  # type: ignore[assignment]
    team = Team.objects.create(shop=shop, name=name, lead=lead)
    team.members.set(members)
    return team


def absence_add(
    *,
    agent: Agent,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
    actor: Agent | None = None,
) -> Absence:
    """Record that `agent` is away; routing sends their customers to the backup or the queue meanwhile."""
    if ends_at <= starts_at:
        raise ValidationFailed("The absence must end after it starts.", field="ends_at")
    absence = Absence.objects.create(agent=agent, starts_at=starts_at, ends_at=ends_at, reason=reason)
    if actor:
        audit_record(
            actor=actor,
            action="absence.add",
            obj=agent,
            data={"from": starts_at.isoformat(), "to": ends_at.isoformat()},
        )
    return absence
