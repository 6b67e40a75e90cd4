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

from opiekun.agents.models import Agent
from opiekun.core.rowload import Join, JoinedRow
from opiekun.shops.models import Shop

# user ⟕ agent (agents_agent.user_id = auth_user.id) ⟕ shop (shops_shop.id = agents_agent.shop_id), the
# SQL written once (compiling the select_related query per request cost more than running it).
_USER_AGENT_SHOP = JoinedRow(
    get_user_model(),
    [
        Join(Agent, "agent", via=0, column="user_id", other_column="id", reverse=True),
        Join(Shop, "shop", via=1, column="id", other_column="shop_id"),
    ],
)


class DeskBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """The active user with `user.agent` and `user.agent.shop` loaded (one query), or None."""
        try:
            user_id = get_user_model()._meta.pk.to_python(user_id)  # type: ignore[union-attr]
        except Exception:  # a session carrying a malformed id signs nobody in
            return None
        user: Any = _USER_AGENT_SHOP.get(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
