"""The WSGI entry point answers webhooks without the site's middleware, and everything else with it."""

from __future__ import annotations

import hashlib
import hmac
import io
import json

import pytest

from opiekun.webhooks import services
from opiekun.webhooks.models import Delivery

from .test_intake import SignedJSON, source  # noqa: F401  (fixture)


def call(path: str, body: bytes = b"", method: str = "POST", **headers: str) -> tuple[str, dict, bytes]:
    from opiekun.config.wsgi import application

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        **{"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()},
    }
    seen: dict = {}

    def start_response(status: str, response_headers: list) -> None:
        seen["status"], seen["headers"] = status, dict(response_headers)

    answer = b"".join(application(environ, start_response))
    return seen["status"], seen["headers"], answer


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_answered_without_the_sites_middleware_and_stored(shop, source: SignedJSON):  # noqa: F811
    endpoint = services.endpoint_create(shop=shop, source=source.name, secret="s3cret-value")
    body = json.dumps({"id": 9}).encode()
    signature = hmac.new(b"s3cret-value", body, hashlib.sha256).hexdigest()
    status, headers, answer = call(endpoint.url_path, body, **{"X-Test-Signature": signature})
    assert status.startswith("200") and json.loads(answer) == {"ok": True, "duplicate": False}
    assert "Set-Cookie" not in headers and "X-Frame-Options" not in headers  # no session, no site middleware
    assert headers["Content-Length"] == str(len(answer))  # kept alive for the next delivery, not chunked
    assert Delivery.objects.filter(endpoint=endpoint, key="9").exists()
    status, _headers, _answer = call(endpoint.url_path, body, **{"X-Test-Signature": "forged"})
    assert status.startswith("401")


@pytest.mark.django_db(transaction=True)
def test_other_paths_keep_the_sites_middleware():
    status, headers, _answer = call("/login/", method="GET")
    assert status.startswith("200")
    assert headers.get("X-Frame-Options") == "DENY"
