"""bulk_insert / bulk_set write exactly what save() would, ids in order, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opiekun.conversations.models import Message
from opiekun.core.bulk import bulk_insert, bulk_set
from opiekun.inboxes.models import RawMail
from opiekun.testing import factories


def _message(conversation, i, **extra):  # type: ignore[no-untyped-def]
    return Message(
        shop=conversation.shop,
        conversation=conversation,
        direction="in",
        channel="email",
        text=f"Treść {i}: zażółć gęślą jaźń ' \" \\ {{}} , NULL",
        meta={"n": i, "nested": {"list": [1, "два", None]}},
        created_at=timezone.now() - dt.timedelta(minutes=i),
        external_id=None if i % 2 else f"ext-{i}",
        **extra,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 3, 250])
def test_rows_come_back_as_written_with_their_ids_in_order(inbox, count):
    conversation = factories.ConversationFactory(shop=inbox.shop, inbox=inbox)
    objects = bulk_insert([_message(conversation, i) for i in range(count)])
    assert all(not obj._state.adding for obj in objects)
    for i, obj in enumerate(objects):
        stored = Message.objects.get(pk=obj.pk)
        assert stored.meta == {"n": i, "nested": {"list": [1, "два", None]}}
        assert stored.text == obj.text and stored.created_at == obj.created_at
        assert stored.external_id == (None if i % 2 else f"ext-{i}")


@pytest.mark.django_db
def test_binary_and_empty_values_survive(inbox):
    now = timezone.now()
    raws = bulk_insert(
        [
            RawMail(
                shop=inbox.shop,
                inbox=inbox,
                source="file",
                sha256="a" * 64,
                size=3,
                raw=b"\x00\xff\n",
                received_at=now,
            ),
            RawMail(
                shop=inbox.shop,
                inbox=inbox,
                source="file",
                sha256="b" * 64,
                size=0,
                raw=None,
                received_at=now,
            ),
        ]
    )
    assert bytes(RawMail.objects.get(pk=raws[0].pk).raw) == b"\x00\xff\n"
    assert RawMail.objects.get(pk=raws[1].pk).raw is None


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 40])
def test_bulk_set_writes_each_row_its_own_values_and_nothing_else(inbox, count):
    conversation = factories.ConversationFactory(shop=inbox.shop, inbox=inbox)
    objects = bulk_insert([_message(conversation, i) for i in range(count)])
    bystander = bulk_insert([_message(conversation, 99), _message(conversation, 98)])
    for i, obj in enumerate(objects):
        obj.delivery_status = "sent" if i % 2 else "failed"
        obj.delivery_error = "" if i % 2 else f"550 nie ma takiego adresu {i}"
        obj.meta = {"updated": i}
        obj.sent_at = None if i % 2 else timezone.now()
    assert bulk_set(objects, ["delivery_status", "delivery_error", "meta", "sent_at"]) == count
    for i, obj in enumerate(objects):
        stored = Message.objects.get(pk=obj.pk)
        assert (stored.delivery_status, stored.delivery_error, stored.meta) == (
            obj.delivery_status,
            obj.delivery_error,
            {"updated": i},
        )
        assert (stored.sent_at is None) == bool(i % 2)
    for obj in bystander:
        assert Message.objects.get(pk=obj.pk).meta == obj.meta  # untouched
