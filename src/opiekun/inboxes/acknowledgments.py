"""E-mails to customers that are not agents' replies: the acknowledgment of a new contact-form case,
and a fresh customer portal link on request.

Why the contact form calls `acknowledgment_schedule` itself rather than this module subscribing to
"conversation created": an acknowledgment answers *a person who just pressed Send* on the form,
which only the form knows; web processes do not import task modules until they enqueue, so a
subscription would need wiring in the app config; and every other channel (e-mail, API, chat)
creates cases too without wanting this mail. Both mails leave after commit, through a task.

Safety: never for an automatic reply, at most ACK_LIMIT acknowledgments per address per hour (a
flood or a loop cannot turn us into a mail cannon), marked `Auto-Submitted: auto-replied` so the
customer's autoresponder does not answer back (RFC 3834). The magic link goes only to the mailbox
on the contact, so only its owner can open their cases.
"""

from __future__ import annotations

import logging
import re
from email.utils import formataddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from opiekun.contacts import normalise
from opiekun.contacts.models import Contact, Identity
from opiekun.contacts.portal import portal_link
from opiekun.conversations.models import Conversation, Message
from opiekun.core import ratelimit
from opiekun.core.errors import RateLimited
from opiekun.shops.models import Shop

from . import mailthreads

log = logging.getLogger(__name__)

ACK_LIMIT = (5, 3600)  # acknowledgments per shop + address per window (seconds)
LINK_LIMIT = (3, 3600)  # requested portal links per contact per window
QUOTE_CHARS = 600
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _email_of(contact: Contact, preferred: str = "") -> str:
    """`preferred` when it is one of the contact's addresses, else the contact's primary address."""
    if preferred:
        try:
            value = normalise.email(preferred)
        except ValueError:
            value = ""
        if value and Identity.objects.filter(contact=contact, kind=Identity.Kind.EMAIL, value=value).exists():
            return value
    return (
        Identity.objects.filter(contact=contact, kind=Identity.Kind.EMAIL)
        .order_by("-is_primary", "id")
        .values_list("value", flat=True)
        .first()
        or ""
    )


def _language(*codes: str) -> str:
    supported = {code for code, _name in settings.LANGUAGES}
    return next((c for c in codes if c in supported), settings.LANGUAGE_CODE)


def acknowledgment_schedule(*, message: Message, to_email: str = "") -> bool:
    """Queue the acknowledgment of a customer's first message on a new case, after commit.

    `to_email`: the address the customer typed (it must be one of the contact's); by default the
    contact's primary one. Returns whether a mail will go out (not for auto-replies, switched off in
    the inbox, no address, or over the per-address limit). Counts one hit on the per-address limit.
    """
    conversation = message.conversation
    if (
        message.direction != Message.Direction.INBOUND
        or message.is_internal
        or message.meta.get("auto_reply")
    ):
        return False
    if message.inbox is not None and not _acknowledgments_on(message.inbox.config):
        return False
    email = _email_of(conversation.contact, preferred=to_email)
    if not email:
        return False
    try:
        ratelimit.hit(f"ack:{conversation.shop_id}:{email}", limit=ACK_LIMIT[0], window=ACK_LIMIT[1])
    except RateLimited:
        log.info(
            "acknowledgment for case %s of shop %s skipped: address over its hourly limit",
            conversation.number,
            conversation.shop_id,
        )
        return False
    message_id = message.pk
    transaction.on_commit(lambda: _enqueue("send_acknowledgment", message_id, email), robust=True)
    return True


def _acknowledgments_on(config: dict[str, Any]) -> bool:
    # Every driver that acknowledges names the switch `send_acknowledgment`; on unless switched off.
    return (config or {}).get("send_acknowledgment", True) is not False


def _enqueue(task_name: str, *args: Any) -> None:
    from . import tasks

    getattr(tasks, task_name)(*args)


def acknowledgment_send(message_id: int, to_email: str = "") -> bool:
    """Compose and send the acknowledgment of message `message_id`. Reads the case, contact and shop."""
    message = (
        Message.objects.select_related("conversation__contact", "conversation__shop")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return False
    conversation: Conversation = message.conversation
    contact, shop = conversation.contact, conversation.shop
    email = _email_of(contact, preferred=to_email)
    if not email:
        return False
    language = _language(conversation.language, contact.language, shop.default_language)
    text = message.text.strip()
    quote = text[:QUOTE_CHARS] + ("…" if len(text) > QUOTE_CHARS else "")
    context = {
        "shop": shop,
        "contact": contact,
        "conversation": conversation,
        "quote": quote,
        "quote_lines": "\n".join(f"> {line}".rstrip() for line in quote.splitlines()),
        "portal_url": portal_link(contact, number=conversation.number),
        "new_link_url": _new_link_url(shop),
        "link_days": settings.OPIEKUN_PORTAL_LINK_MAX_AGE // 86400,
    }
    _send(
        shop=shop,
        contact=contact,
        email=email,
        language=language,
        template="acknowledgment",
        context=context,
        **_threading(message),
    )
    return True


def _threading(message: Message) -> dict[str, Any]:
    """For a case opened by e-mail: answer in the customer's thread, from the mailbox, with a reply token."""
    inbox = message.inbox
    if inbox is None or inbox.kind != "email":
        return {}
    mailbox = str((inbox.config or {}).get("address", ""))
    headers: dict[str, str] = {}
    if message.rfc_message_id:
        headers = {"In-Reply-To": f"<{message.rfc_message_id}>", "References": f"<{message.rfc_message_id}>"}
    number = message.conversation.number
    reply_to = mailthreads.reply_address(mailbox, shop_id=message.shop_id, number=number) if mailbox else ""
    return {"headers": headers, "sender": mailbox, "reply_to": reply_to}


def portal_link_schedule(*, contact: Contact) -> bool:
    """Queue a fresh portal link to the contact's own address, after commit (limited per contact)."""
    try:
        ratelimit.hit(f"portal-link:{contact.pk}", limit=LINK_LIMIT[0], window=LINK_LIMIT[1])
    except RateLimited:
        return False
    contact_id = contact.pk
    transaction.on_commit(lambda: _enqueue("send_portal_link", contact_id), robust=True)
    return True


def portal_link_send(contact_id: int) -> bool:
    """Compose and send a new magic link to contact `contact_id`. Reads the contact and its shop."""
    contact = Contact.objects.select_related("shop").filter(pk=contact_id, merged_into__isnull=True).first()
    if contact is None:
        return False
    email = _email_of(contact)
    if not email:
        return False
    shop = contact.shop
    language = _language(contact.language, shop.default_language)
    context = {
        "shop": shop,
        "contact": contact,
        "portal_url": portal_link(contact),
        "new_link_url": _new_link_url(shop),
        "link_days": settings.OPIEKUN_PORTAL_LINK_MAX_AGE // 86400,
    }
    _send(shop=shop, contact=contact, email=email, language=language, template="portal_link", context=context)
    return True


def _colours(brand: str) -> dict[str, str]:
    """The shop's colour for the mail's accents (validated: it goes into style attributes)."""
    if not _HEX.match(brand or ""):
        brand = "#2f6f4f"
    r, g, b = (int(brand[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return {
        "brand": brand,
        "on_brand": "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.6 else "#1b1f24",
    }


def _new_link_url(shop: Shop) -> str:
    return f"{settings.OPIEKUN_PUBLIC_URL}{reverse('portal:request_link')}?shop={shop.slug}"


def _send(
    *,
    shop: Shop,
    contact: Contact,
    email: str,
    language: str,
    template: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
    sender: str = "",
    reply_to: str = "",
) -> None:
    context = {**context, "language": language, **_colours(shop.brand_color)}
    with translation.override(language):
        subject = " ".join(render_to_string(f"public/email/{template}_subject.txt", context).split())
        body = render_to_string(f"public/email/{template}.txt", context)
        html = render_to_string(f"public/email/{template}.html", context)
    sender = sender or shop.sender_email or settings.DEFAULT_FROM_EMAIL
    reply_to = reply_to or shop.sender_email
    domain = sender.rpartition("@")[2] or "opiekun.invalid"
    mail = EmailMultiAlternatives(
        subject=subject[:250],
        body=body,
        from_email=formataddr((shop.name, sender)),
        to=[formataddr((contact.name, email))],
        reply_to=[reply_to] if reply_to else None,
        headers={
            "Auto-Submitted": "auto-replied",
            "X-Auto-Response-Suppress": "All",
            "Message-ID": f"<{mailthreads.new_message_id(domain=domain)}>",
            **(headers or {}),
        },
    )
    mail.attach_alternative(html, "text/html")
    mail.send()  # an SMTP error propagates: the task retries it
