"""Phone lines, calls, and the callback guarantee: every missed call becomes a task until it is done.

A PhoneLine is one connected provider account (Twilio, Zadarma, any PBX through the generic webhook,
or an SMS gateway): its webhook Endpoint, the shop's number and the sealed API credentials. A Call is
one call as the provider reported it, built up from its events in whatever order they arrived. A
Callback is the one open task per customer number that missed calls (and voicemails) collect into.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opiekun.core.secretbox import SealedJSONField

DEFAULT_HOURS = {d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")}


def _default_hours() -> dict[str, str]:
    return dict(DEFAULT_HOURS)


class PhonePolicy(models.Model):
    """A shop's promise about callbacks: how soon (in business hours), how many tries, who escalates."""

    shop = models.OneToOneField("shops.Shop", on_delete=models.CASCADE, related_name="phone_policy")
    callback_minutes = models.PositiveIntegerField(_("call back within (minutes)"), default=30)
    # Opening hours per weekday in the installation's time zone, e.g. {"mon": "08:00-16:00"}; a day
    # left out is closed. Empty: the deadline runs around the clock.
    business_hours = models.JSONField(default=_default_hours, blank=True)
    polish_holidays = models.BooleanField(_("closed on Polish public holidays"), default=True)
    max_attempts = models.PositiveSmallIntegerField(_("attempts before giving up"), default=3)
    team = models.ForeignKey(
        "agents.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The queue callbacks fall into when neither the caretaker nor the backup can take them."),
    )

    def __str__(self) -> str:
        return f"phone policy of shop {self.shop_id}"


class Provider(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    ZADARMA = "zadarma", "Zadarma"
    GENERIC = "generic", _("Other PBX (generic webhook)")
    SMSAPI = "smsapi", "SMSAPI.pl"


class PhoneLine(models.Model):
    """One provider account connected to a shop: where its webhooks arrive and how to call its API."""

    class Purpose(models.TextChoices):
        VOICE = "voice", _("Calls")
        SMS = "sms", _("Text messages")

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=12, choices=Provider.choices)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.VOICE)
    endpoint = models.OneToOneField("webhooks.Endpoint", on_delete=models.PROTECT, related_name="phone_line")
    inbox = models.ForeignKey(
        "inboxes.Inbox",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The SMS inbox messages arrive in (text-message lines)."),
    )
    label = models.CharField(max_length=120, blank=True)
    number = models.CharField(_("the shop's number"), max_length=20, blank=True)  # E.164
    # Twilio: {"account_sid", "auth_token"}; Zadarma: {"key", "secret"}; sealed at rest, never shown.
    credentials = SealedJSONField()
    # The provider's API root; set only to point a line at a stand-in (tests, a sandbox).
    api_base = models.URLField(blank=True)
    team = models.ForeignKey(
        "agents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.label or f"{self.get_provider_display()} {self.number}"

    def __repr__(self) -> str:  # never print credentials
        return f"<PhoneLine {self.pk} {self.provider} shop={self.shop_id}>"


class CallState(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    ANSWERED = "answered", _("In progress")
    ENDED = "ended", _("Ended")
    MISSED = "missed", _("Missed")
    ABANDONED = "abandoned", _("Abandoned")
    VOICEMAIL = "voicemail", _("Voicemail")


# States of an inbound call that nobody answered: each one owes the customer a callback.
UNANSWERED = (CallState.MISSED, CallState.ABANDONED, CallState.VOICEMAIL)


class Call(models.Model):
    """One call, assembled from its provider events (which may arrive in any order, or twice)."""

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(
        PhoneLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    provider = models.CharField(max_length=12, choices=Provider.choices)
    provider_call_id = models.CharField(max_length=120)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    state = models.CharField(max_length=10, choices=CallState.choices, default=CallState.RINGING)
    from_raw = models.CharField(max_length=80, blank=True)
    to_raw = models.CharField(max_length=80, blank=True)
    # The customer's number (the caller of an inbound call, the callee of an outbound one) in E.164;
    # when it cannot be parsed the raw text is kept in customer_raw and number_flagged says why.
    customer_number = models.CharField(max_length=20, blank=True, db_index=True)
    customer_raw = models.CharField(max_length=80, blank=True)
    number_flagged = models.CharField(max_length=200, blank=True)
    answered_by = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    extension = models.CharField(max_length=80, blank=True)
    # Facts gathered from the events; the state is computed from them (telephony/callstate.py).
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=12, blank=True)  # missed | abandoned | "" (answered or open)
    voicemail = models.BooleanField(default=False)
    duration = models.PositiveIntegerField(default=0, help_text=_("Seconds of conversation."))
    recording_url = models.URLField(max_length=500, blank=True)
    recording = models.ForeignKey(
        "conversations.Attachment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recording_error = models.CharField(max_length=300, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    callback = models.ForeignKey(
        "Callback", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    # The agent who placed an outbound call from the desk (click-to-call).
    placed_by = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Which events were applied (a set, for out-of-order merging) and the timeline kinds written.
    seen = models.JSONField(default=list, blank=True)
    logged = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shop", "provider", "provider_call_id"], name="call_once_per_provider"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "-started_at"], name="call_shop_recent"),
            models.Index(fields=["contact", "-started_at"], name="call_contact_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} call {self.customer_number or self.customer_raw}"

    @property
    def is_settled(self) -> bool:
        return self.state not in (CallState.RINGING, CallState.ANSWERED)


class Callback(models.Model):
    """The task of calling a customer back: one open per number, collecting every missed call from it."""

    class Status(models.TextChoices):
        OPEN = "open", _("To call back")
        REACHED = "reached", _("Reached")
        EXHAUSTED = "exhausted", _("Not reached")

    class Owner(models.TextChoices):
        CARETAKER = "caretaker", _("caretaker")
        BACKUP = "backup", _("backup")
        QUEUE = "queue", _("team queue")

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    number = models.CharField(max_length=80)  # E.164, or the raw text of an unparseable number
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_reason = models.CharField(max_length=10, choices=Owner.choices, default=Owner.QUEUE)
    team = models.ForeignKey(
        "agents.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    missed_calls = models.PositiveIntegerField(default=1)
    voicemails = models.PositiveIntegerField(default=0)
    first_call_at = models.DateTimeField()
    last_call_at = models.DateTimeField()
    due_at = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalated_to = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How it was closed: an attempt that reached them, their own answered call, or attempts run out.
    closed_reason = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Repeated calls from one number merge into its open callback; the schema guarantees one.
            models.UniqueConstraint(
                fields=["shop", "number"], condition=Q(status="open"), name="callback_one_open"
            )
        ]
        indexes = [
            models.Index(fields=["shop", "due_at"], condition=Q(status="open"), name="callback_open_due"),
            models.Index(
                fields=["shop", "-closed_at"], condition=~Q(status="open"), name="callback_done_recent"
            ),
        ]

    def __str__(self) -> str:
        return f"callback {self.number} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class CallbackAttempt(models.Model):
    class Outcome(models.TextChoices):
        NO_ANSWER = "no_answer", _("No answer")
        BUSY = "busy", _("Busy")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        REACHED = "reached", _("Reached")

    callback = models.ForeignKey(Callback, on_delete=models.CASCADE, related_name="attempt_rows")
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=14, choices=Outcome.choices)
    note = models.CharField(max_length=500, blank=True)
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.outcome} @ {self.at:%Y-%m-%d %H:%M}"
