"""The one NinjaAPI of the installation; routers live in opiekun.api.* modules.

Every operation needs a caller: an API token (`Authorization: Bearer opk_…`) or a signed-in agent's
session (with CSRF on unsafe methods). See docs/api.md.
"""

from typing import Any

from ninja import NinjaAPI
from ninja.renderers import JSONRenderer

from . import attachments, contacts, conversations, docs, errors, messages
from .auth import AgentSessionAuth, TokenAuth


class OpiekunAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        # Short, stable operation ids (the view's name) for generated clients and schemathesis reports.
        return str(operation.view_func.__name__)


class Utf8JSONRenderer(JSONRenderer):
    # Names in Polish and Russian stay readable on the wire (the response is UTF-8 anyway).
    json_dumps_params = {"ensure_ascii": False}


api = OpiekunAPI(
    title="Opiekun API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    docs=docs.OfflineSwagger(),
    description="Contacts, conversations, messages and attachments of one shop. "
    "Authenticate with `Authorization: Bearer opk_…` (an API token, `opiekun apitoken create`) "
    "or a desk session.",
    auth=[TokenAuth(), AgentSessionAuth()],
    renderer=Utf8JSONRenderer(),
)
errors.install(api)
api.add_router("/contacts", contacts.router)
api.add_router("/conversations", conversations.router)
api.add_router("/conversations", messages.router)
api.add_router("", attachments.router)
api.get("/docs/assets/{name}", auth=None, include_in_schema=False, url_name="docs_asset")(docs.docs_asset)
