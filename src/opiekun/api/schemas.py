"""The API's request and response shapes (pydantic through ninja): ids are ints, times ISO 8601.

Every text that reaches the database passes `clean_text`: PostgreSQL rejects NUL characters and no
database can store a lone UTF-16 surrogate, so both are refused here as a 422, never a 500. Lengths
are capped at the column sizes for the same reason (PostgreSQL enforces varchar lengths, SQLite not).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any

from django.urls import reverse
from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints

from opiekun.conversations.models import Priority

MAX_ID = 2**63 - 1  # BIGINT: a bigger number would overflow the id columns of both databases
MAX_OFFSET = 1_000_000
MAX_LIMIT = 200
MAX_TEXT = 100_000  # conversations.services.MAX_TEXT


def clean_text(value: str) -> str:
    """Refuse text a database cannot store (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _limit(max_length: int, *, strip: bool = True, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=strip, max_length=max_length, min_length=min_length)


Storable = AfterValidator(clean_text)


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, _limit(200), Storable]
Language = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=8, pattern=r"^([a-z]{2,3}(-[A-Za-z0-9]{2,4})?)?$"),
]
Notes = Annotated[str, _limit(20_000, strip=False), Storable]
Email = Annotated[str, _limit(320), Storable, Field(json_schema_extra={"format": "email"})]
Phone = Annotated[str, _limit(40), Storable]
Subject = Annotated[str, _limit(300), Storable]
OrderRef = Annotated[str, _limit(64), Storable]
TagName = Annotated[str, _limit(50, min_length=1), Storable]
Body = Annotated[str, _limit(MAX_TEXT, strip=False, min_length=1), Storable]
Search = Annotated[str, _limit(200), Storable]
IdentityValue = Annotated[str, _limit(320, min_length=1), Storable]
TagFilter = Annotated[str, _limit(50), Storable]
ExternalId = Annotated[str, _limit(200, min_length=1), Storable]


# Enums of the OpenAPI document; values are the model choices (a test keeps them in step).


class ConversationStatus(enum.StrEnum):
    new = "new"
    open = "open"
    pending_customer = "pending_customer"
    pending_internal = "pending_internal"
    resolved = "resolved"
    closed = "closed"


class StatusAfterReply(enum.StrEnum):
    """Where a case goes once the reply is queued (the default waits on the customer)."""

    open = "open"
    pending_customer = "pending_customer"
    pending_internal = "pending_internal"
    resolved = "resolved"


class PriorityName(enum.StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


PRIORITY_VALUES = {
    PriorityName.low: Priority.LOW,
    PriorityName.normal: Priority.NORMAL,
    PriorityName.high: Priority.HIGH,
    PriorityName.urgent: Priority.URGENT,
}
PRIORITY_NAMES = {v: k for k, v in PRIORITY_VALUES.items()}


class MessageDirection(enum.StrEnum):
    inbound = "in"
    outbound = "out"


class ChannelKindName(enum.StrEnum):
    email = "email"
    webform = "webform"
    livechat = "livechat"
    sms = "sms"
    voice = "voice"
    whatsapp = "whatsapp"
    messenger = "messenger"
    telegram = "telegram"
    note = "note"


class ReplyChannel(enum.StrEnum):
    """Channels a reply can go out on (a logged note is never sent)."""

    email = "email"
    webform = "webform"
    livechat = "livechat"
    sms = "sms"
    voice = "voice"
    whatsapp = "whatsapp"
    messenger = "messenger"
    telegram = "telegram"


class DeliveryStatus(enum.StrEnum):
    none = ""
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"


class IdentityKind(enum.StrEnum):
    email = "email"
    phone = "phone"
    chat = "chat"
    messenger = "messenger"


class View(enum.StrEnum):
    """The desk's inbox views; `mine` and `my_customers` need a signed-in agent."""

    mine = "mine"
    my_customers = "my_customers"
    unassigned = "unassigned"
    open = "open"
    pending_customer = "pending_customer"
    pending_internal = "pending_internal"
    sla_risk = "sla_risk"
    resolved = "resolved"
    all = "all"


class Sort(enum.StrEnum):
    recent = "recent"
    oldest = "oldest"
    sla = "sla"
    priority = "priority"
    number = "number"


class UploadAs(enum.StrEnum):
    reply = "reply"
    note = "note"


# Errors


class Error(Schema):
    detail: str
    field: str | None = None
    code: str = "invalid"


class ConflictError(Error):
    id: int | None = Field(None, description="The existing object's id.")


ERRORS: dict[int, Any] = {401: Error, 404: Error, 422: Error, 429: Error}


# Pagination


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"At most {MAX_LIMIT} items per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


class Page(Schema):
    limit: int
    offset: int
    next_offset: int | None = Field(None, description="The offset of the next page; null on the last page.")


# Agents, teams, inboxes (references only)


class AgentRef(Schema):
    id: int
    display_name: str


class TeamRef(Schema):
    id: int
    name: str


class InboxRef(Schema):
    id: int
    kind: str
    name: str


# Contacts


class IdentityOut(Schema):
    id: int
    kind: IdentityKind
    value: str
    is_primary: bool
    flagged: str


class ContactBrief(Schema):
    id: int
    name: str


class ContactOut(Schema):
    id: int
    name: str
    language: str
    notes: str
    caretaker: AgentRef | None
    backup_caretaker: AgentRef | None
    merged_into_id: int | None = Field(None, description="Set when this contact was merged into another one.")
    created_at: dt.datetime
    identities: list[IdentityOut]


class ContactPage(Page):
    items: list[ContactOut]


class ContactListParams(PageParams):
    q: Search = Field("", description="Part of a name, e-mail address or phone number.")


class ContactCreate(Schema):
    name: Name = ""
    email: Email = ""
    phone: Phone = ""
    language: Language = ""
    notes: Notes = ""


class ContactUpdate(Schema):
    name: Name | None = None
    language: Language | None = None
    notes: Notes | None = None


class IdentityCreate(Schema):
    kind: IdentityKind
    value: IdentityValue


class CaretakerSet(Schema):
    caretaker_id: Id | None = None
    backup_caretaker_id: Id | None = None


class ContactMerge(Schema):
    source_id: Id = Field(description="The contact folded into this one (it stays, pointing here).")


# Conversations


class ConversationOut(Schema):
    id: int
    number: int
    subject: str
    status: ConversationStatus
    priority: PriorityName
    contact: ContactBrief
    assignee: AgentRef | None
    team: TeamRef | None
    inbox: InboxRef | None
    tags: list[str]
    order_ref: str
    language: str
    created_at: dt.datetime
    updated_at: dt.datetime
    last_message_at: dt.datetime
    waiting_since: dt.datetime | None
    sla_due_at: dt.datetime | None
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    message_count: int
    merged_into_id: int | None
    follow_up_of_id: int | None

    @staticmethod
    def resolve_priority(obj: Any) -> PriorityName:
        return PRIORITY_NAMES.get(obj.priority, PriorityName.normal)

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return sorted(t.name for t in obj.tags.all())


class ConversationDetail(ConversationOut):
    contact: ContactOut  # type: ignore[assignment]


class ConversationPage(Page):
    items: list[ConversationOut]


class ConversationListParams(PageParams):
    view: View = View.all
    team_id: Id | None = None
    status: ConversationStatus | None = None
    priority: PriorityName | None = None
    channel: ChannelKindName | None = None
    tag: TagFilter = ""
    assignee_id: Id | None = None
    contact_id: Id | None = None
    q: Search = Field(
        "", description="A case number (#123), or words of the subject or the contact's name/address."
    )
    sort: Sort = Sort.recent


class ConversationCreate(Schema):
    """A customer's request that opens a case (as if sent through the shop's contact form)."""

    contact_id: Id | None = Field(None, description="An existing contact; otherwise name + email/phone.")
    name: Name = ""
    email: Email = ""
    phone: Phone = ""
    subject: Subject = ""
    text: Body
    order_ref: OrderRef = ""
    language: Language = ""
    external_id: ExternalId | None = Field(
        None, description="Your id for this request; sending it again answers 409 with the case's id."
    )


class ConversationUpdate(Schema):
    """Only the fields sent change; `assignee_id`/`team_id` null puts the case back in the queue/no team."""

    status: ConversationStatus | None = None
    priority: PriorityName | None = None
    assignee_id: Id | None = None
    team_id: Id | None = None
    tags: list[TagName] | None = Field(None, max_length=50, description="The complete set of tags.")
    add_tags: list[TagName] = Field(default_factory=list, max_length=50)
    remove_tags: list[TagName] = Field(default_factory=list, max_length=50)
    order_ref: OrderRef | None = None


# Messages and attachments


class AttachmentOut(Schema):
    id: int
    message_id: int | None
    filename: str
    mime_type: str
    size: int
    sha256: str
    created_at: dt.datetime
    download_url: str

    @staticmethod
    def resolve_download_url(obj: Any) -> str:
        return reverse("api:attachment_download", kwargs={"attachment_id": obj.pk})


class MessageOut(Schema):
    id: int
    conversation_id: int
    direction: MessageDirection
    is_internal: bool
    channel: ChannelKindName
    author_agent: AgentRef | None
    author_contact_id: int | None
    text: str
    html: str
    delivery_status: DeliveryStatus
    delivery_error: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    attachments: list[AttachmentOut]


class MessagePage(Page):
    items: list[MessageOut]


class ReplyCreate(Schema):
    text: Body
    agent_id: Id | None = Field(None, description="The agent who writes; required with an API token.")
    channel: ReplyChannel | None = Field(None, description="Default: the channel the customer last used.")
    status_after: StatusAfterReply = StatusAfterReply.pending_customer


class NoteCreate(Schema):
    text: Body
    agent_id: Id | None = Field(None, description="The agent who writes; required with an API token.")


class UploadForm(Schema):
    text: Body
    kind: UploadAs = Field(UploadAs.reply, description="A public reply or an internal note.")
    agent_id: Id | None = None
    status_after: StatusAfterReply = StatusAfterReply.pending_customer
