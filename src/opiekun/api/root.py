"""The one NinjaAPI of the installation; routers live in opiekun.api.* modules.

Every operation needs a caller: an API token (`Authorization: Bearer opk_…`) or a signed-in agent's
session (with CSRF on unsafe methods). See docs/api.md.
"""

from typing import Any

from ninja import NinjaAPI

from . import attachments, contacts, conversations, errors, messages
from .auth import AgentSessionAuth, TokenAuth


class OpiekunAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        # Short, stable operation ids (the view's name) for generated clients and schemathesis reports.
        return str(operation.view_func.__name__)


api = OpiekunAPI(
    title="Opiekun API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    description="Contacts, conversations, messages and attachments of one shop. "
    "Authenticate with `Authorization: Bearer opk_…` (an API token, `opiekun apitoken create`) "
    "or a desk session.",
    auth=[TokenAuth(), AgentSessionAuth()],
)
errors.install(api)
api.add_router("/contacts", contacts.router)
api.add_router("/conversations", conversations.router)
api.add_router("/conversations", messages.router)
api.add_router("", attachments.router)
