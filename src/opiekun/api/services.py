"""Writes of the API's own: its audit entries and revoking tokens (shops.access creates and checks them)."""

from __future__ import annotations

from typing import Any

from django.db import models

from opiekun.agents.models import Agent, AuditLog
from opiekun.agents.services import audit_record
from opiekun.core import clock
from opiekun.shops.models import ApiToken, Shop


def api_audit(
    *,
    shop: Shop,
    agent: Agent | None,
    token: ApiToken | None,
    action: str,
    obj: models.Model,
    data: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditLog:
    """One AuditLog row for a write made through the API; a token call has no actor and names its token."""
    extra: dict[str, Any] = {"via": "api"}
    if token is not None:
        extra.update(token=token.name, token_id=token.pk)
    return audit_record(
        actor=agent, action=action, obj=obj, data={**(data or {}), **extra}, ip=ip, shop_id=shop.pk
    )


def audit_token_call(
    who: Any, *, action: str, obj: models.Model, data: dict[str, Any] | None = None, ip: str | None = None
) -> AuditLog | None:
    """Audit a write made with an API token (a session call is audited by the services themselves)."""
    if who.token is None:
        return None
    return api_audit(shop=who.shop, agent=None, token=who.token, action=action, obj=obj, data=data, ip=ip)


def api_token_revoke(*, token: ApiToken, actor: Agent | None = None) -> ApiToken:
    """Stop `token` from authenticating from now on (the row stays for the audit trail). Idempotent."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="apitoken.revoke", obj=token, data={"name": token.name}, shop_id=token.shop_id
        )
    return token
