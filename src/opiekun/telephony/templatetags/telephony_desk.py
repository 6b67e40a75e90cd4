"""The desk's phone panel (`{% phone_panel contact conversation %}` in the side panel and on the customer
page): click-to-call per phone number, the one-click text after a call, open callbacks of the customer."""

from __future__ import annotations

from typing import Any

from django import template

from opiekun.contacts.models import Identity
from opiekun.conversations.models import ChannelKind
from opiekun.inboxes.models import Inbox

from ..models import Callback
from ..selectors import can_place_calls
from ..sms import OPT_OUT_PREFIX

register = template.Library()


@register.inclusion_tag("telephony/_panel.html", takes_context=True)
def phone_panel(context: template.Context, contact: Any, conversation: Any = None) -> dict[str, Any]:
    """Nothing without phone numbers; else the numbers with their actions (three small queries)."""
    phones = [i for i in contact.identities.all() if i.kind == Identity.Kind.PHONE]
    if not phones:
        return {"show": False}
    agent = context.get("agent")
    request = context.get("request")
    return {
        "show": True,
        "contact": contact,
        "conversation": conversation,
        "agent": agent,
        "phones": [{"value": i.value, "opted_out": i.flagged.startswith(OPT_OUT_PREFIX)} for i in phones],
        "can_call": can_place_calls(shop_id=contact.shop_id),
        "can_text": conversation is not None
        and Inbox.objects.filter(shop_id=contact.shop_id, kind=ChannelKind.SMS, is_active=True).exists(),
        "open_callbacks": list(
            Callback.objects.filter(shop_id=contact.shop_id, contact=contact, status=Callback.Status.OPEN)
        ),
        "next": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("telephony/_sms_counter.html")
def sms_counter(conversation: Any) -> dict[str, Any]:
    """The SMS length counter under the composer when the reply goes out as a text message."""
    from opiekun.conversations.models import Message

    inbox = getattr(conversation, "inbox", None)
    last = (
        conversation.messages.filter(direction=Message.Direction.INBOUND, is_internal=False)
        .exclude(channel=ChannelKind.NOTE)
        .order_by("-created_at", "-id")
        .values_list("channel", flat=True)
        .first()
    )
    return {"show": (last or getattr(inbox, "kind", "")) == ChannelKind.SMS}
