"""/api/conversations — cases: the desk's list and filters, one case, open a case, change its state."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from opiekun.conversations import selectors as conversation_selectors
from opiekun.conversations import services as conversations
from opiekun.conversations.selectors import Filters
from opiekun.core.errors import NotFound, ValidationFailed
from opiekun.inboxes import pipeline
from opiekun.inboxes.base import InboundMessage, SenderHints

from . import selectors
from .auth import caller, client_ip
from .common import addresses, agent_in_shop, page_of, team_in_shop
from .errors import Conflict
from .schemas import (
    ERRORS,
    PRIORITY_VALUES,
    ConflictError,
    ConversationCreate,
    ConversationDetail,
    ConversationListParams,
    ConversationPage,
    ConversationUpdate,
    Id,
)
from .services import api_audit

router = Router(tags=["conversations"])

ConversationId = Path[Id]

# A case opened through the API arrives like a contact-form request: it is the customer's message,
# it starts the SLA clock and routes to the caretaker or the form's team, and replies reach the
# customer by e-mail with a portal link (docs/api.md, "Opening a case").
INTAKE_KIND = "webform"
EXTERNAL_ID_PREFIX = "api:"


def _check_search(q: str) -> str:
    """The desk's search reads digits as a case number: refuse ones no case can have (or non-ASCII)."""
    digits = q.strip().lstrip("#")
    if digits.isdigit() and not (digits.isascii() and len(digits) <= 18):
        raise ValidationFailed(_("This is not a case number."), field="q")
    return q.strip()


@router.get(
    "", response={200: ConversationPage, **ERRORS}, url_name="conversation_list", summary="List conversations"
)
def conversation_list(request: HttpRequest, params: Query[ConversationListParams]) -> dict[str, Any]:
    """The shop's cases with the desk's views and filters, newest activity first by default.

    `mine` and `my_customers` are relative to the signed-in agent and need a session; a team_id shows
    that team's open cases whatever the view.
    """
    who = caller(request)
    if (
        who.agent is None
        and params.team_id is None
        and params.view.value in conversation_selectors.AGENT_VIEWS
    ):
        raise ValidationFailed(
            _("This view needs a signed-in agent; use another view with an API token."), field="view"
        )
    filters = Filters(
        view=params.view.value,
        team_id=params.team_id,
        status=params.status.value if params.status else "",
        priority=int(PRIORITY_VALUES[params.priority]) if params.priority else None,
        channel=params.channel.value if params.channel else "",
        tag=params.tag.strip(),
        assignee_id=params.assignee_id,
        q=_check_search(params.q),
        sort=params.sort.value,
    )
    rows = conversation_selectors.conversation_list(
        shop_id=who.shop.pk,
        filters=filters,
        agent=who.agent,
        contact_id=params.contact_id,
        limit=params.limit + 1,
        offset=params.offset,
    )
    return page_of(rows, params)


@router.get(
    "/{conversation_id}",
    response={200: ConversationDetail, **ERRORS},
    url_name="conversation_detail",
    summary="Get a conversation",
)
def conversation_detail(request: HttpRequest, conversation_id: ConversationId) -> Any:
    """One case with its contact, people and tags."""
    return selectors.access_conversation_in_shop(
        shop_id=caller(request).shop.pk, conversation_id=conversation_id
    )


@router.post(
    "",
    response={201: ConversationDetail, 409: ConflictError, **ERRORS},
    url_name="conversation_create",
    summary="Open a conversation",
)
def conversation_create(request: HttpRequest, payload: ConversationCreate) -> Status[Any]:
    """Open a case with the customer's first message, through the shop's contact-form inbox.

    Name the customer by `contact_id`, or by `email`/`phone` (+ `name`): a known address finds its
    contact, a new one creates it. Send `external_id` to make retries safe.
    """
    who = caller(request)
    inbox = selectors.shop_inbox(shop_id=who.shop.pk, kind=INTAKE_KIND)
    if inbox is None:
        raise ValidationFailed(_("This shop has no active contact-form inbox to open cases in."))
    if payload.contact_id is not None:
        try:
            contact = selectors.access_contact(shop_id=who.shop.pk, contact_id=payload.contact_id)
        except NotFound:
            raise ValidationFailed(_("There is no such contact in this shop."), field="contact_id") from None
        sender = SenderHints(contact_id=contact.pk)
    else:
        if not addresses(email=payload.email, phone=payload.phone):
            raise ValidationFailed(
                _("Give the customer's e-mail address or phone number, or a contact_id."), field="email"
            )
        sender = SenderHints(name=payload.name, email=payload.email, phone=payload.phone)
    external_id = EXTERNAL_ID_PREFIX + payload.external_id if payload.external_id else None
    if external_id:
        _refuse_replay(inbox_id=inbox.pk, external_id=external_id)
    message = InboundMessage(
        sender=sender,
        text=payload.text,
        subject=payload.subject,
        external_id=external_id,
        order_ref=payload.order_ref,
        language=payload.language,
        meta={"via": "api"},
    )
    with transaction.atomic():
        result = pipeline.process(inbox=inbox, message=message)
        if result.outcome == pipeline.DUPLICATE and external_id:
            _refuse_replay(inbox_id=inbox.pk, external_id=external_id)
        if result.outcome != pipeline.CREATED or result.conversation is None:
            raise ValidationFailed(result.reason or _("The message did not open a case."))
        api_audit(
            shop=who.shop,
            agent=who.agent,
            token=who.token,
            action="conversation.create",
            obj=result.conversation,
            data={"number": result.conversation.number},
            ip=client_ip(request),
        )
    return Status(
        201,
        selectors.access_conversation_in_shop(shop_id=who.shop.pk, conversation_id=result.conversation.pk),
    )


def _refuse_replay(*, inbox_id: int, external_id: str) -> None:
    conversation_id = selectors.conversation_id_for_external_id(inbox_id=inbox_id, external_id=external_id)
    if conversation_id is not None:
        raise Conflict(
            _("A case was opened with this external_id already."),
            existing_id=conversation_id,
            field="external_id",
        )


@router.patch(
    "/{conversation_id}",
    response={200: ConversationDetail, **ERRORS},
    url_name="conversation_update",
    summary="Update a conversation",
)
def conversation_update(
    request: HttpRequest, payload: ConversationUpdate, conversation_id: ConversationId
) -> Any:
    """Change status, priority, assignee, team, tags or order reference; fields left out stay as they are.

    All changes apply together or not at all (an impossible status change answers 422 and changes nothing).
    """
    who = caller(request)
    conversation = selectors.access_conversation_in_shop(shop_id=who.shop.pk, conversation_id=conversation_id)
    sent = payload.model_fields_set
    assignee = (
        agent_in_shop(who.shop, payload.assignee_id, field="assignee_id")
        if "assignee_id" in sent and payload.assignee_id is not None
        else None
    )
    team = team_in_shop(who.shop, payload.team_id, field="team_id") if payload.team_id is not None else None
    if payload.tags is not None and (payload.add_tags or payload.remove_tags):
        raise ValidationFailed(_("Send either tags or add_tags/remove_tags, not both."), field="tags")
    add, remove = list(payload.add_tags), list(payload.remove_tags)
    if payload.tags is not None:
        wanted = {t.strip().lower() for t in payload.tags}
        current = {t.name for t in conversation.tags.all()}
        add, remove = sorted(wanted - current), sorted(current - wanted)
    ip = client_ip(request)
    with transaction.atomic():
        if "assignee_id" in sent or "team_id" in sent:
            conversations.conversation_assign(
                conversation=conversation,
                agent=assignee if "assignee_id" in sent else conversation.assignee,
                actor=who.agent,
                team=team,
                set_team="team_id" in sent,
                ip=ip,
            )
        if payload.priority is not None:
            conversations.conversation_set_priority(
                conversation=conversation, priority=int(PRIORITY_VALUES[payload.priority]), actor=who.agent
            )
        if payload.status is not None:
            conversations.conversation_set_status(
                conversation=conversation, status=payload.status.value, actor=who.agent, ip=ip
            )
        if add or remove:
            conversations.conversation_tag(conversation=conversation, add=add, remove=remove, actor=who.agent)
        if payload.order_ref is not None:
            conversations.conversation_link_order(
                conversation=conversation, order_ref=payload.order_ref, actor=who.agent
            )
        # The services audit agents' status/assignment/priority changes; tags, the order link and every
        # token call are recorded here.
        if who.token is not None or add or remove or payload.order_ref is not None:
            api_audit(
                shop=who.shop,
                agent=who.agent,
                token=who.token,
                action="conversation.update",
                obj=conversation,
                data={"fields": sorted(sent)},
                ip=ip,
            )
    return selectors.access_conversation_in_shop(shop_id=who.shop.pk, conversation_id=conversation.pk)
