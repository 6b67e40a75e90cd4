"""/api/docs works offline: Swagger UI served from the django-ninja package, never from a CDN.

ninja falls back to CDN links unless "ninja" is an installed app; Opiekun runs on machines without
internet, so the page and its three assets are served from here instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import escape
from ninja.openapi.docs import Swagger

ASSETS_DIR = Path(ninja.__file__).parent / "static" / "ninja"
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "favicon.png": "image/png",
}


class OfflineSwagger(Swagger):
    def render_page(self, request: HttpRequest, api: Any, **kwargs: Any) -> HttpResponse:
        """The Swagger UI page; session callers get the CSRF token its requests need."""
        self.settings["url"] = self.get_openapi_url(api, kwargs)

        def asset(name: str) -> str:
            return escape(reverse(f"{api.urls_namespace}:docs_asset", kwargs={"name": name}))

        config = json.dumps(self.settings).replace("<", "\\u003c")  # a JSON island can never close its tag
        html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(api.title)}</title>
<link rel="icon" href="{asset("favicon.png")}">
<link rel="stylesheet" href="{asset("swagger-ui.css")}">
</head>
<body data-csrf-token="{escape(get_token(request))}" data-api-csrf="true">
<script type="application/json" id="swagger-settings">{config}</script>
<div id="swagger-ui"></div>
<script src="{asset("swagger-ui-bundle.js")}"></script>
<script src="{asset("swagger-ui-init.js")}"></script>
</body>
</html>
"""
        return HttpResponse(html)


def docs_asset(request: HttpRequest, name: str) -> FileResponse:  # registered in root.py
    """One of the Swagger UI files shipped inside the django-ninja package (a fixed list, nothing else)."""
    if name not in ASSETS:
        raise Http404()
    response = FileResponse((ASSETS_DIR / name).open("rb"), content_type=ASSETS[name])
    response["Cache-Control"] = "public, max-age=86400"
    return response
