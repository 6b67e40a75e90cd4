"""Writes on inboxes."""

from __future__ import annotations

import time
from typing import Any

from django.db import IntegrityError, connection, transaction
from pydantic import ValidationError

from opiekun.agents.models import Team
from opiekun.core import clock
from opiekun.core.bulk import marks
from opiekun.core.errors import ValidationFailed
from opiekun.shops.models import Shop

from .models import Inbox
from .registry import drivers

_DEFAULT_NAMES = {"note": "Logged contacts"}


def inbox_for_kind(shop: Shop, kind: str) -> Inbox:
    """The shop's first active inbox of `kind`, created on first use (e.g. the note inbox of logged calls)."""
    inbox = Inbox.objects.filter(shop=shop, kind=kind, is_active=True).order_by("id").first()
    if inbox is not None:
        return inbox
    name = _DEFAULT_NAMES.get(kind, kind)
    for attempt in range(1, 4):
        try:
            with transaction.atomic():
                return Inbox.objects.create(
                    shop=shop, kind=kind, name=name if attempt == 1 else f"{name} {attempt}"
                )
        except IntegrityError:
            # Another request created it a moment ago, or an inactive inbox already holds the name.
            inbox = Inbox.objects.filter(shop=shop, kind=kind, is_active=True).order_by("id").first()
            if inbox is not None:
                return inbox
    raise RuntimeError(f"could not create a {kind} inbox for shop {shop.pk}")


def inbox_create(
    *,
    shop: Shop,
    kind: str,
    name: str,
    config: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    team: Team | None = None,
) -> Inbox:
    """A new inbox of `kind` whose settings the kind's driver accepts; field errors otherwise."""
    secrets = dict(secrets or {})
    stored = _driver_accepts(kind, dict(config or {}), secrets)
    name = _free_name(shop.pk, name)
    return Inbox.objects.create(shop=shop, kind=kind, name=name, config=stored, secrets=secrets, team=team)


def _driver_accepts(kind: str, config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    """`config` as the kind's driver validated and normalised it (e.g. a lower-cased address), to store
    apart from the secrets; a field error naming the first bad setting otherwise."""
    try:
        driver = drivers.get(kind)
    except LookupError:
        raise ValidationFailed(f"Unknown channel kind {kind!r}.", field="kind") from None
    known = set(driver.Config.model_fields)
    try:
        validated = driver.Config.model_validate(
            {**config, **{k: v for k, v in secrets.items() if k in known}}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "config"
        raise ValidationFailed(f"{where}: {first.get('msg', 'invalid')}", field=where) from None
    dumped = validated.model_dump(mode="json", exclude=set(secrets))
    return {k: dumped[k] for k in config if k in dumped}


def _free_name(shop_id: int, name: str, *, exclude_pk: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationFailed("Name the inbox.", field="name")
    taken = Inbox.objects.filter(shop_id=shop_id, name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationFailed("The shop already has an inbox with this name.", field="name")
    return name


def inbox_update(
    *,
    inbox: Inbox,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, str] | None = None,
    team: Team | None = None,
    is_active: bool | None = None,
) -> Inbox:
    """Change an inbox's name, settings and (non-empty) secrets after its driver accepted them.

    `config` replaces the stored settings; a secret left empty keeps the stored one (forms never echo
    passwords back). Touches that Inbox row only.
    """
    new_secrets = {k: v for k, v in (secrets or {}).items() if v}
    merged_secrets = {**(inbox.secrets or {}), **new_secrets}
    stored = _driver_accepts(inbox.kind, dict(config), merged_secrets)
    name = _free_name(inbox.shop_id, name, exclude_pk=inbox.pk)
    fields: dict[str, Any] = {"name": name, "config": stored, "secrets": merged_secrets, "team": team}
    if is_active is not None:
        fields["is_active"] = is_active
    try:
        with transaction.atomic():
            Inbox.objects.filter(pk=inbox.pk).update(**fields)
    except IntegrityError:
        raise ValidationFailed("The shop already has an inbox with this name.", field="name") from None
    for key, value in fields.items():
        setattr(inbox, key, value)
    return inbox


TOUCH_EVERY = 1.0  # seconds: how fresh an inbox's "last activity" is kept
_touched: dict[int, float] = {}  # inbox → when this process last wrote its last activity


def inbox_touch(inbox_ids: set[int]) -> None:
    """Something arrived in these inboxes: their last activity is now (written at most once a second
    per inbox and process — a chat storing lines all the time need not write it with each of them).
    Call it inside the transaction of what arrived."""
    moment = time.monotonic()
    due = sorted(pk for pk in inbox_ids if moment - _touched.get(pk, -TOUCH_EVERY) >= TOUCH_EVERY)
    if not due:
        return
    for pk in due:
        _touched[pk] = moment
    field = Inbox._meta.get_field("last_activity_at")
    table = connection.ops.quote_name(Inbox._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_activity_at = %s WHERE id IN ({marks(len(due))})",
            [field.get_db_prep_save(clock.now(), connection), *due],
        )
