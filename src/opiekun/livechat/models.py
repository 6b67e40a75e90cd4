"""Chat sessions (one visitor's browser on one widget) and which agents have the desk open for chats."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChatSession(models.Model):
    """One visitor's chat: the signed token the widget keeps names `key`; `conversation` is its case.

    The visitor's own view of delivery: `visitor_delivered_up_to` / `visitor_read_up_to` are the
    newest agent message ids their widget confirmed (Message has no "read" state, so it lives here),
    `agent_read_up_to` the newest visitor message an agent has seen in the desk.
    """

    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=40, unique=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    identified = models.BooleanField(
        default=False, help_text=_("The shop vouched for the visitor with a signed identity token.")
    )
    given_name = models.CharField(max_length=200, blank=True)
    given_email = models.CharField(
        max_length=320, blank=True, help_text=_("Typed in the pre-chat form: not verified.")
    )
    given_phone = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=8, blank=True)
    page_url = models.CharField(max_length=1000, blank=True)
    page_title = models.CharField(max_length=300, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    connected = models.PositiveIntegerField(default=0, help_text=_("Open widget sockets right now."))
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    visitor_delivered_up_to = models.BigIntegerField(default=0)
    visitor_read_up_to = models.BigIntegerField(default=0)
    agent_read_up_to = models.BigIntegerField(default=0)
    transcripts_sent = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["conversation"], name="chatsession_conversation")]

    def __str__(self) -> str:
        return f"chat session {self.pk}"


class AgentPresence(models.Model):
    """An agent with the desk open (its chat socket connected) can be offered chats."""

    agent = models.OneToOneField("agents.Agent", on_delete=models.CASCADE, related_name="+")
    shop = models.ForeignKey("shops.Shop", on_delete=models.CASCADE, related_name="+")
    sockets = models.IntegerField(default=0)
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["shop", "seen_at"], name="agentpresence_shop_seen")]

    def __str__(self) -> str:
        return f"presence of agent {self.agent_id}"
