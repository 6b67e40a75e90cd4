"""An Inbox is one configured instance of a channel kind (the shop's contact form, its support mailbox…)."""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel

from opiekun.core.secretbox import SealedJSONField

T = TypeVar("T", bound=BaseModel)


class Inbox(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="inboxes")
    kind = models.CharField(max_length=12)
    name = models.CharField(max_length=100)
    team = models.ForeignKey(
        "agents.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text="The queue new conversations fall into when no caretaker takes them.",
    )
    # Per-kind settings, validated by the driver's Config; secrets (passwords, API tokens) live apart,
    # sealed at rest (core/secretbox.py), and never reach logs or the API.
    config = models.JSONField(default=dict, blank=True)
    secrets = SealedJSONField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Health of pulled channels (IMAP): when the last fetch finished and when the last error happened.
    last_fetch_at = models.DateTimeField(null=True, blank=True)
    # Per IMAP folder and UIDVALIDITY ("INBOX\n1234"): the UID where the folder's history ends, drawn on
    # the first connection (drivers/email/imap.py HistoryLine). Written by the fetcher only.
    imap_history = models.JSONField(default=dict, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="inbox_unique_name_per_shop")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def __repr__(self) -> str:  # never print secrets
        return f"<Inbox {self.pk} {self.kind} {self.name!r}>"

    def settings(self, config_class: type[T]) -> T:
        """The inbox's settings validated by its driver's Config, with the secrets the Config declares
        joined in (only here, for the driver; raises pydantic's ValidationError when they do not fit)."""
        secrets = {k: v for k, v in (self.secrets or {}).items() if k in config_class.model_fields}
        return config_class.model_validate({**(self.config or {}), **secrets})


class RawMail(models.Model):
    """One received e-mail exactly as it arrived, stored before anything else happens to it.

    The bytes live content-addressed on disk (the attachment store); this row says where they came
    from (an IMAP mailbox + UIDVALIDITY + UID, the SMTP intake, an imported file) and what became of
    them. Nothing is ever dropped: a mail that cannot be processed stays here, quarantined, with the
    reason, until an operator retries it.
    """

    class Source(models.TextChoices):
        IMAP = "imap", "IMAP"
        SMTP = "smtp", "SMTP"
        FILE = "file", _("Imported file")

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        QUARANTINED = "quarantined", _("Quarantined")

    # Few indexes on purpose: every received mail is written twice (stored, then its outcome), and on
    # PostgreSQL each index costs an entry per write; lookups go through the partial indexes below.
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+", db_index=False)
    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="raw_mails", db_index=False)
    source = models.CharField(max_length=8, choices=Source.choices)
    mailbox = models.CharField(max_length=200, blank=True)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    uid = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    # Small mails (nearly all) keep their bytes here, so one commit makes a whole batch durable;
    # larger ones live in the content-addressed file store under `sha256` (see mailstore.mail_raw).
    raw = models.BinaryField(null=True, blank=True, editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)
    outcome = models.CharField(max_length=12, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    subject = models.CharField(max_length=300, blank=True)
    from_email = models.CharField(max_length=320, blank=True)
    message = models.ForeignKey(
        "conversations.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "mailbox", "uidvalidity", "uid"],
                condition=models.Q(uid__isnull=False),
                name="rawmail_unique_imap_uid",
            )
        ]
        indexes = [
            models.Index(fields=["inbox", "received_at"], name="rawmail_inbox_recent"),
            models.Index(fields=["id"], condition=models.Q(state="received"), name="rawmail_pending"),
            models.Index(
                fields=["shop", "-received_at"],
                condition=models.Q(state="quarantined"),
                name="rawmail_quarantine",
            ),
        ]

    def __str__(self) -> str:
        return f"raw mail {self.pk} ({self.source}, {self.state})"
