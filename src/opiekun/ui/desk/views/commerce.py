"""The desk's commerce screens: link a case to an order with one click, and (admins) the shop
connections with their health, webhook address and a catch-up on demand. The 360 panel itself is the
`{% customer_orders %}` tag (commerce/templatetags), included by the side panel and the contact page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from opiekun.agents.models import Agent
from opiekun.commerce import presentation
from opiekun.commerce.forms import ConnectorForm
from opiekun.commerce.selectors import access_connector, access_order, connector_health, connectors_of_shop
from opiekun.commerce.services import connector_create, connector_update, order_link_conversation
from opiekun.commerce.tasks import sync_connector
from opiekun.conversations.models import Conversation
from opiekun.core.errors import NotFound

from .conversation import conversation_action
from .inbox import filters_from, shell_context
from .mail import admin_view


@conversation_action
def link_action(request: HttpRequest, conversation: Conversation) -> str:
    """Link the case to one of the shop's orders (order_link_conversation); another shop's order is 404."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    try:
        order_id = int(request.POST.get("order", ""))
    except ValueError:
        raise NotFound("No such order.") from None
    order = access_order(shop_id=agent.shop_id, order_id=order_id)
    order_link_conversation(order=order, conversation=conversation, actor=agent)
    return presentation.linked_notice(order.number)


def _page(
    request: HttpRequest, *, form: ConnectorForm | None = None, created: Any = None, status: int = 200
) -> HttpResponse:
    agent: Agent = request.agent  # type: ignore[attr-defined]
    ctx = shell_context(request, filters_from(request))
    for item in ctx["nav"]:
        item["active"] = False
    public = settings.OPIEKUN_PUBLIC_URL.rstrip("/")
    ctx.update(
        {
            "commerce_page": True,
            "connectors": [
                {"h": connector_health(c), "url": public + c.endpoint.url_path if c.endpoint else ""}
                for c in connectors_of_shop(shop_id=agent.shop_id)
            ],
            "form": form or ConnectorForm(),
            "created": created,
        }
    )
    return render(request, "commerce/connectors.html", ctx, status=status)


@require_GET
@admin_view
def connectors_view(request: HttpRequest) -> HttpResponse:
    """Every shop connection with its health (last webhook, pending/failed deliveries, last catch-up)."""
    return _page(request)


@require_POST
@admin_view
def connector_new_action(request: HttpRequest) -> HttpResponse:
    """Create a connector and its webhook endpoint; the secret is shown once, on this answer."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    form = ConnectorForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=422)
    connector = connector_create(
        shop=agent.shop,
        platform=form.cleaned_data["platform"],
        label=form.cleaned_data["label"],
        base_url=form.cleaned_data["base_url"] or "",
        credentials=form.credentials(),
        webhook_secret=form.cleaned_data["webhook_secret"],
    )
    assert connector.endpoint is not None
    public = settings.OPIEKUN_PUBLIC_URL.rstrip("/")
    created = {
        "connector": connector,
        "url": public + connector.endpoint.url_path,
        "secret": connector.endpoint.signing_secret,
        "notice": presentation.connector_created_notice(),
    }
    return _page(request, created=created)


@require_POST
@admin_view
def connector_active_action(request: HttpRequest, connector_id: int) -> HttpResponse:
    """Switch a connection off (its webhooks answer 404, no catch-up) or on again (connector_update)."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    connector = access_connector(shop_id=agent.shop_id, connector_id=connector_id)
    connector_update(connector=connector, is_active=request.POST.get("active") == "1")
    return HttpResponseRedirect(reverse("desk:commerce_connectors"))


@require_POST
@admin_view
def connector_sync_action(request: HttpRequest, connector_id: int) -> HttpResponse:
    """Queue a catch-up of one connector now."""
    agent: Agent = request.agent  # type: ignore[attr-defined]
    connector = access_connector(shop_id=agent.shop_id, connector_id=connector_id)
    sync_connector(connector.pk)
    messages.success(request, presentation.sync_queued_notice())
    return HttpResponseRedirect(reverse("desk:commerce_connectors"))
