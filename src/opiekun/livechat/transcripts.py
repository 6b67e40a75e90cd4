"""The chat transcript mailed to the visitor: through the shop's mailbox (the e-mail driver, its SMTP
settings) when it has one, else the installation's outgoing mail like the other customer e-mails."""

from __future__ import annotations

import logging
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from opiekun.conversations.models import Message
from opiekun.inboxes import mailthreads
from opiekun.inboxes.base import OutboundMessage
from opiekun.inboxes.models import Inbox
from opiekun.inboxes.registry import drivers

from .models import ChatSession
from .selectors import session_history

log = logging.getLogger(__name__)


def transcript_text(session: ChatSession, language: str) -> tuple[str, str]:
    """(subject, body) of the transcript in `language`: every public message, oldest first."""
    messages: list[Message] = session_history(session=session, limit=2000)
    shop = session.inbox.shop
    lines = []
    with translation.override(language):
        for m in messages:
            when = timezone.localtime(m.created_at).strftime("%Y-%m-%d %H:%M")
            if m.direction == Message.Direction.INBOUND:
                who = session.given_name or translation.gettext("You")
            else:
                who = (m.author_agent.display_name if m.author_agent else "") or shop.name
            text = m.text or ""
            for a in m.attachments.all():
                text += ("\n" if text else "") + f"[{a.filename}]"
            lines.append((when, who, text))
        context = {
            "shop": shop,
            "lines": lines,
            "number": session.conversation.number if session.conversation else "",
        }
        subject = " ".join(render_to_string("livechat/transcript_subject.txt", context).split())
        body = render_to_string("livechat/transcript.txt", context)
    return subject, body


def transcript_send(*, session_id: int, email: str) -> bool:
    """Compose and send the transcript of session `session_id` to `email`. Reads the session's chat."""
    session = ChatSession.objects.select_related("inbox__shop", "conversation").filter(pk=session_id).first()
    if session is None or session.conversation is None:
        return False
    shop = session.inbox.shop
    language = session.language or session.conversation.language or shop.default_language
    subject, body = transcript_text(session, language)
    mailbox = Inbox.objects.filter(shop=shop, kind="email", is_active=True).order_by("id").first()
    if mailbox is not None:
        driver = drivers.get("email")
        config = mailbox.settings(driver.Config)
        address = str(getattr(config, "address", "")) or shop.sender_email or settings.DEFAULT_FROM_EMAIL
        outbound = OutboundMessage(
            message_id=0,
            conversation_number=session.conversation.number,
            subject=subject,
            text=body,
            to_name=session.given_name,
            to_email=email,
            from_name=shop.name,
            from_email=address,
            shop_name=shop.name,
            language=language,
            rfc_message_id=mailthreads.new_message_id(domain=address.rpartition("@")[2] or "opiekun.invalid"),
        )
        result = driver.send(outbound, config)
        if not result.ok and result.transient:
            raise RuntimeError(f"transcript not sent yet: {result.error}")  # huey retries
        if not result.ok:
            log.warning("transcript of chat session %s not sent: %s", session_id, result.error)
        return result.ok
    sender = shop.sender_email or settings.DEFAULT_FROM_EMAIL
    message_id = mailthreads.new_message_id(domain=sender.rpartition("@")[2] or "opiekun.invalid")
    mail = EmailMultiAlternatives(
        subject=subject[:250],
        body=body,
        from_email=formataddr((shop.name, sender)),
        to=[formataddr((session.given_name, email))],
        headers={
            "Auto-Submitted": "auto-generated",
            "Message-ID": f"<{message_id}>",
        },
    )
    mail.send()
    return True
