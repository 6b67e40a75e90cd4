import pytest
from pydantic import ValidationError

from opiekun.api import schemas
from opiekun.contacts.models import Identity
from opiekun.conversations.models import ChannelKind, Message, Priority, Status
from opiekun.conversations.selectors import SORTS, VIEWS


@pytest.mark.parametrize(
    "api_enum,values",
    [
        (schemas.ConversationStatus, Status.values),
        (schemas.MessageDirection, Message.Direction.values),
        (schemas.ChannelKindName, ChannelKind.values),
        (schemas.DeliveryStatus, Message.Delivery.values),
        (schemas.IdentityKind, Identity.Kind.values),
        (schemas.View, list(VIEWS)),
        (schemas.Sort, list(SORTS)),
    ],
)
def test_api_enums_follow_the_model_choices(api_enum, values):
    assert [e.value for e in api_enum] == list(values)


def test_priority_names_cover_every_priority():
    assert sorted(int(v) for v in schemas.PRIORITY_VALUES.values()) == sorted(Priority.values)


def test_reply_channels_are_the_sendable_ones():
    assert {c.value for c in schemas.ReplyChannel} == set(ChannelKind.values) - {"note"}


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x" * 201])
def test_text_a_database_cannot_store_is_refused(text):
    with pytest.raises(ValidationError):
        schemas.ContactCreate(name=text)


def test_text_is_trimmed_and_unicode_kept():
    assert schemas.ContactCreate(name="  Ольга Żółć  ").name == "Ольга Żółć"
