"""Macros (canned replies) rendered with variables like {{ contact.first_name }} or {{ conversation.number }}.

The body is written by shop staff, not by customers, but it is still rendered in a sandbox: a Django
template engine with no loaders, no `{% load %}`-able libraries and only a handful of harmless tags and
filters, over a context of plain strings (never model instances, whose methods a template could call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import VariableDoesNotExist

from opiekun.agents.models import Agent
from opiekun.core.errors import ValidationFailed
from opiekun.core.registry import Registry

from .models import Conversation, Macro

# The module doubles as the engine's only builtin library (Engine(builtins=[__name__])).
register = Library()
for _name in ("if", "for", "firstof", "with", "comment", "now", "spaceless", "verbatim"):
    register.tag(_name, defaulttags.register.tags[_name])
for _name in (
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "capfirst",
    "cut",
    "date",
    "time",
    "first",
    "last",
    "join",
    "length",
    "slice",
    "truncatechars",
    "truncatewords",
    "yesno",
    "linebreaksbr",
    "pluralize",
    "floatformat",
    "add",
    "stringformat",
    "center",
    "ljust",
    "rjust",
):
    register.filter(_name, defaultfilters.register.filters[_name])


class _SandboxEngine(Engine):
    # Engine always adds Django's default builtins (include, extends, load, debug, csrf_token…); not here.
    default_builtins: list[str] = []


def _engine(autoescape: bool) -> Engine:
    return _SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        builtins=[__name__],
        autoescape=autoescape,
        string_if_invalid="",
        debug=False,
    )


_ENGINES = {True: _engine(True), False: _engine(False)}

VariableProvider = Callable[[Conversation], dict[str, Any]]
variable_providers: Registry[VariableProvider] = Registry("macro variable provider")
"""More variables for macros from apps above this one (commerce registers `order`): each provider gets
the conversation and returns plain values under its key, which replace the built-in ones of that key."""


def macro_context(*, conversation: Conversation, agent: Agent | None) -> dict[str, Any]:
    """The variables a macro may use, as plain values (reads the conversation's contact and identities)."""
    contact = conversation.contact
    identities = {i.kind: i.value for i in reversed(list(contact.identities.order_by("-is_primary", "id")))}
    agent_name = agent.display_name if agent else ""
    return {
        "contact": {
            "name": contact.name,
            "first_name": contact.first_name,
            "last_name": contact.name.split(maxsplit=1)[1] if len(contact.name.split()) > 1 else "",
            "email": identities.get("email", ""),
            "phone": identities.get("phone", ""),
        },
        "conversation": {
            "number": conversation.number,
            "subject": conversation.subject,
            "order_ref": conversation.order_ref,
            "status": conversation.get_status_display(),
        },
        "order": {"number": conversation.order_ref},
        "agent": {
            "name": agent_name,
            "first_name": agent_name.split()[0] if agent_name.strip() else "",
            "signature": agent.signature if agent else "",
        },
        "shop": {"name": conversation.shop.name},
    } | {key: provider(conversation) for key, provider in variable_providers.items()}


def render_text(body: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render `body` in the sandbox; autoescape only when the output is HTML (replies are plain text)."""
    try:
        template = _ENGINES[html].from_string(body)
        return template.render(Context(context, autoescape=html)).strip()
    except (TemplateSyntaxError, VariableDoesNotExist) as exc:
        raise ValidationFailed(f"The macro cannot be used: {exc}", field="macro") from None


def macro_render(*, macro: Macro, conversation: Conversation, agent: Agent | None, html: bool = False) -> str:
    """The macro's body with this conversation's variables filled in (reads contact, identities, shop)."""
    if macro.shop_id != conversation.shop_id:
        raise ValidationFailed("That macro belongs to another shop.", field="macro")
    return render_text(macro.body, macro_context(conversation=conversation, agent=agent), html=html)
