"""Conversations (cases), their messages and attachments, the append-only timeline, tags and macros."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING_CUSTOMER = "pending_customer", _("Waiting on customer")
    PENDING_INTERNAL = "pending_internal", _("Waiting internal")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_CUSTOMER, Status.PENDING_INTERNAL)
# Open and waiting on us: what the SLA clock runs for.
SLA_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING_INTERNAL)


class Priority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBFORM = "webform", _("Contact form")
    LIVECHAT = "livechat", _("Live chat")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Phone")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")
    TELEGRAM = "telegram", _("Telegram")
    NOTE = "note", _("Logged contact")


class Tag(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["shop", "name"], name="tag_unique_per_shop")]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="conversations")
    number = models.PositiveBigIntegerField()
    subject = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="conversations")
    assignee = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    team = models.ForeignKey(
        "agents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The contact's caretaker, copied here so "My customers" and its count read no contacts (a join of
    # every open case with the contacts table was most of the counts' time at 1M cases on PostgreSQL).
    # Kept equal to contact.caretaker by conversations_follow_caretaker, called by every write of either.
    caretaker = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    inbox = models.ForeignKey(
        "inboxes.Inbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    order_ref = models.CharField(max_length=64, blank=True)
    language = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    # The oldest customer message nobody has answered yet; None when the ball is not in our court.
    waiting_since = models.DateTimeField(null=True, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    follow_up_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shop", "number"], name="conversation_number_per_shop")
        ]
        indexes = [
            models.Index(fields=["shop", "status", "-last_message_at"], name="conv_shop_status_recent"),
            models.Index(
                fields=["shop", "assignee", "status", "-last_message_at"], name="conv_assignee_recent"
            ),
            models.Index(fields=["shop", "team", "status", "-last_message_at"], name="conv_team_recent"),
            models.Index(fields=["shop", "status", "sla_due_at"], name="conv_sla_due"),
            models.Index(fields=["contact", "-last_message_at"], name="conv_contact_recent"),
            models.Index(fields=["shop", "-last_message_at"], name="conv_shop_recent"),
            # Partial indexes for the inbox views (bench/desk_queries.py): open cases are a few % of the
            # table, so these stay small and give each view its rows already in list order — no sort of
            # every open case, and "resolved" never sorts the whole history.
            models.Index(
                fields=["shop", "-last_message_at", "-id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="conv_open_recent",
            ),
            models.Index(
                fields=["shop", "assignee", "-last_message_at", "-id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="conv_open_assignee",
            ),
            models.Index(
                fields=["shop", "team", "-last_message_at", "-id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="conv_open_team",
            ),
            models.Index(
                fields=["shop", "-last_message_at", "-id"],
                condition=models.Q(status__in=(Status.RESOLVED, Status.CLOSED), merged_into__isnull=True),
                name="conv_done_recent",
            ),
            # Covers shop_counts (an index-only scan of the open cases, nothing joined).
            models.Index(
                fields=["shop", "assignee", "team", "caretaker", "status"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="conv_open_counts",
            ),
            models.Index(
                fields=["shop", "caretaker", "-last_message_at", "-id"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="conv_open_caretaker",
            ),
            # The "SLA at risk" view, newest first or most urgent first (a backlog can be thousands).
            models.Index(
                fields=["shop", "-last_message_at", "-id"],
                condition=models.Q(status__in=SLA_STATUSES),
                name="conv_sla_recent",
            ),
            models.Index(
                fields=["shop", "sla_due_at", "-id"],
                condition=models.Q(status__in=SLA_STATUSES),
                name="conv_sla_order",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", _("From the customer")
        OUTBOUND = "out", _("To the customer")

    class Delivery(models.TextChoices):
        NONE = "", _("Not sent")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    is_internal = models.BooleanField(
        default=False, help_text=_("An internal note: never sent to the customer.")
    )
    channel = models.CharField(max_length=12, choices=ChannelKind.choices)
    inbox = models.ForeignKey(
        "inboxes.Inbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    html = models.TextField(blank=True, help_text=_("Sanitised HTML body, when the channel carries HTML."))
    quoted = models.TextField(
        blank=True, help_text=_("Quoted history and signature split off the new text; shown folded.")
    )
    # E-mail threading: the Message-ID of an inbound mail, or the one we gave an outbound reply.
    rfc_message_id = models.CharField(max_length=255, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    delivery_status = models.CharField(
        max_length=10, choices=Delivery.choices, default=Delivery.NONE, blank=True
    )
    delivery_error = models.CharField(max_length=500, blank=True)
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(max_length=255, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_external_id_per_inbox",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="msg_conversation_time"),
            models.Index(
                fields=["shop", "rfc_message_id"],
                condition=~models.Q(rfc_message_id=""),
                name="msg_rfc_message_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} #{self.pk}"


class Attachment(models.Model):
    """A file on a message; the bytes live once on disk under their SHA-256 (content-addressed)."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    sha256 = models.CharField(max_length=64, db_index=True)
    filename = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    content_id = models.CharField(max_length=255, blank=True, help_text=_("For inline images (cid:)."))
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class Event(models.Model):
    """One entry on the customer timeline. Append-only: never updated, never deleted by the product."""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="event_conversation_time"),
            models.Index(fields=["contact", "created_at"], name="event_contact_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.created_at:%Y-%m-%d %H:%M}"


class Macro(models.Model):
    """A canned reply; `body` may use {{ contact.first_name }}, {{ conversation.number }}…"""

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="macros")
    name = models.CharField(max_length=100)
    language = models.CharField(max_length=8, blank=True)
    body = models.TextField()
    set_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    add_tags = models.CharField(max_length=200, blank=True, help_text=_("Comma-separated tags to add."))

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
