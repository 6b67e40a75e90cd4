"""Direct SMTP intake (aiosmtpd) for shops that forward their support mail to Opiekun.

The rule is "reject, never accept and drop": an unknown recipient gets `550 5.1.1` at RCPT time, a
too-big message `552 5.3.4`, and a store that fails `451 4.3.0` so the sending MTA keeps the mail
and retries. `250` is answered only after `store` returned for every inbox the mail is for, i.e.
when the raw bytes are durable. The bytes are stored exactly as received (after SMTP's own
dot-unstuffing): no Received or other header is added.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 50 * 1024 * 1024

REPLY_UNKNOWN_RECIPIENT = "550 5.1.1 No such mailbox here"
REPLY_TOO_BIG = "552 5.3.4 Message too big for this mailbox"
REPLY_TEMPORARY = "451 4.3.0 Temporary problem storing the message, please try again later"
REPLY_RESOLVE_FAILED = "451 4.3.0 Temporary problem checking the recipient, please try again later"
REPLY_NO_RECIPIENTS = "554 5.5.1 No valid recipients"
REPLY_OK = "250 2.0.0 Message accepted"


@dataclass(frozen=True)
class IntakeEnvelope:
    """The SMTP envelope of one delivery, as far as one inbox is concerned."""

    mail_from: str
    rcpt_tos: tuple[str, ...]  # the recipients of this delivery that belong to this inbox
    peer: str  # the client's IP address
    helo: str
    smtp_utf8: bool = False


ResolveFn = Callable[[str], int | None]
StoreFn = Callable[[int, bytes, IntakeEnvelope], None]


class IntakeHandler:
    """aiosmtpd handler. `resolve(address) -> inbox id | None`; `store(inbox_id, raw, envelope)` returns
    only when the mail is durable. Both are synchronous (they may use the ORM): they run in a worker
    thread, never on the event loop."""

    def __init__(self, resolve: ResolveFn, store: StoreFn, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.resolve = resolve
        self.store = store
        self.max_size = max_size

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            inbox_id = await asyncio.to_thread(self.resolve, address)
        except Exception:
            log.exception("smtp intake: resolving %r failed", address)
            return REPLY_RESOLVE_FAILED
        if inbox_id is None:
            log.info("smtp intake: unknown recipient %r from %s", address, session.peer)
            return REPLY_UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        inboxes: dict[int, list[str]] = _inboxes(envelope)
        inboxes.setdefault(inbox_id, []).append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        inboxes = _inboxes(envelope)
        if not inboxes:
            return REPLY_NO_RECIPIENTS
        raw = bytes(envelope.original_content or b"")
        if len(raw) > self.max_size:  # aiosmtpd's own limit normally answers first (see IntakeSMTP)
            return REPLY_TOO_BIG
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        for inbox_id, addresses in inboxes.items():
            info = IntakeEnvelope(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(addresses),
                peer=str(peer),
                helo=session.host_name or "",
                smtp_utf8=bool(envelope.smtp_utf8),
            )
            try:
                await asyncio.to_thread(self.store, inbox_id, raw, info)
            except Exception:
                # Temporary on purpose: the sender keeps the mail and retries. Inboxes already
                # stored get it again then; the mail store de-duplicates by fingerprint.
                log.exception("smtp intake: storing for inbox %s failed", inbox_id)
                return REPLY_TEMPORARY
        return REPLY_OK


def _inboxes(envelope: Envelope) -> dict[int, list[str]]:
    # aiosmtpd gives a fresh Envelope per transaction (reset on RSET / after DATA), so the
    # recipients' inboxes live on it.
    found: dict[int, list[str]] | None = getattr(envelope, "opiekun_inboxes", None)
    if found is None:
        found = {}
        envelope.opiekun_inboxes = found  # type: ignore[attr-defined]
    return found


class IntakeSMTP(SMTP):
    """aiosmtpd's SMTP with RFC 3463 enhanced codes on its own size-limit replies."""

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith("552 Error:"):
            await super().push(REPLY_TOO_BIG)
            return
        await super().push(status)


class IntakeController(Controller):
    def __init__(self, handler: IntakeHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.intake_handler = handler

    def factory(self) -> SMTP:
        return IntakeSMTP(self.handler, **self.SMTP_kwargs)


def start_intake(
    host: str,
    port: int,
    handler: IntakeHandler,
    *,
    hostname: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
    timeout: float = 300,
) -> IntakeController:
    """Serve SMTP on host:port in a background thread; call `.stop()` on the result to shut down.

    With `tls_context` STARTTLS is offered (and demanded when `require_starttls`)."""
    controller = IntakeController(
        handler,
        hostname=host,
        port=port,
        server_hostname=hostname,
        # aiosmtpd stops reading past the limit (memory stays flat) and advertises SIZE in EHLO.
        data_size_limit=handler.max_size,
        enable_SMTPUTF8=True,
        decode_data=False,
        tls_context=tls_context,
        require_starttls=require_starttls,
        timeout=timeout,
    )
    controller.start()
    return controller
