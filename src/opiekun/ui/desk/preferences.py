"""The agent's own desk preferences (today: the UI language).

Kept in the desk because agents/services.py has no such service yet; it writes one column of the
agent's own profile and nothing else.
"""

from __future__ import annotations

from django.conf import settings

from opiekun.agents.models import Agent
from opiekun.core.errors import ValidationFailed


def ui_language_remember(*, agent: Agent, language: str) -> Agent:
    """Store `language` as the agent's UI language (writes Agent.ui_language)."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationFailed("Unknown language.", field="language")
    if agent.ui_language != language:
        agent.ui_language = language
        agent.save(update_fields=["ui_language"])
    return agent
