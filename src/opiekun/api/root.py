"""The one NinjaAPI of the installation; routers live in opiekun.api.* modules."""

from ninja import NinjaAPI

api = NinjaAPI(title="Opiekun API", version="1", urls_namespace="api", docs_url="/docs")
