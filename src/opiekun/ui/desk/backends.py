"""Sign-in backend of the desk: Django's ModelBackend whose per-request user load brings the agent.

Every desk request needs the user (the session's), the agent profile and the agent's shop (whose list
version keys the remembered lists). ModelBackend loads the user in one query and the desk used to load
the agent and shop in a second; here the user row comes with them in one. Nothing about who may sign
in or stay signed in changes: authenticate() is ModelBackend's, get_user() still refuses inactive
users, and Django still checks the session's password hash against this freshly loaded row on every
request (a password change signs other sessions out), and logout still deletes the database session.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class DeskBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """The active user with `user.agent` and `user.agent.shop` loaded (one query), or None."""
        model = get_user_model()
        user = (
            model._default_manager.select_related("agent", "agent__shop")  # type: ignore[attr-defined]
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None
