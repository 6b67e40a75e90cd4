"""Fixtures of the API tests: a token per shop and clients that send it, a desk session with CSRF."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from opiekun.shops.access import api_token_create
from opiekun.testing import factories


class ApiClient:
    """A Django test client that talks JSON to /api/ with a bearer token (or none)."""

    def __init__(
        self, key: str | None = None, client: Client | None = None, headers: dict[str, str] | None = None
    ):
        self.client = client or Client()
        self.headers = dict(headers or {})
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def _call(self, method: str, path: str, data: Any = None, **kw: Any) -> Any:
        url = path if path.startswith("/") else f"/api/{path}"
        headers = {**self.headers, **kw.pop("headers", {})}
        if (
            method in ("post", "patch", "put")
            and "content_type" not in kw
            and not isinstance(data, (str, bytes))
        ):
            kw["content_type"] = "application/json"
            data = json.dumps(data if data is not None else {})
        elif isinstance(data, (str, bytes)) and "content_type" not in kw:
            kw["content_type"] = "application/json"
        return getattr(self.client, method)(url, data, headers=headers, **kw)

    def get(self, path: str, params: Any = None, **kw: Any) -> Any:
        return self._call("get", path, params, **kw)

    def post(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self._call("post", path, data, **kw)

    def patch(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self._call("patch", path, data, **kw)

    def put(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self._call("put", path, data, **kw)


@pytest.fixture
def token(shop):  # type: ignore[no-untyped-def]
    token, key = api_token_create(shop=shop, name="Shop platform")
    token.key = key
    return token


@pytest.fixture
def other_token(other_shop):  # type: ignore[no-untyped-def]
    token, key = api_token_create(shop=other_shop, name="Other integration")
    token.key = key
    return token


@pytest.fixture
def api(token):  # type: ignore[no-untyped-def]
    return ApiClient(token.key)


@pytest.fixture
def other_api(other_token):  # type: ignore[no-untyped-def]
    return ApiClient(other_token.key)


@pytest.fixture
def anonymous(db):  # type: ignore[no-untyped-def]
    return ApiClient()


@pytest.fixture
def session(agent):  # type: ignore[no-untyped-def]
    """The agent signed in to the desk; CSRF enforced as in a real browser."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)
    return ApiClient(client=client)


def csrf_headers(api_client: ApiClient) -> dict[str, str]:
    """The CSRF header a desk page's script sends (cookie first set by any page that renders the token)."""
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    api_client.client.cookies["csrftoken"] = secret
    return {"X-CSRFToken": _mask_cipher_secret(secret)}


@pytest.fixture
def contact(shop):  # type: ignore[no-untyped-def]
    return factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.org")


@pytest.fixture
def other_contact(other_shop):  # type: ignore[no-untyped-def]
    return factories.ContactFactory(shop=other_shop, name="Ewa Obca", email="ewa@example.org")


@pytest.fixture
def conversation(shop, contact, inbox):  # type: ignore[no-untyped-def]
    return factories.ConversationFactory(
        shop=shop, contact=contact, inbox=inbox, subject="Where is my parcel?"
    )


@pytest.fixture
def other_conversation(other_shop, other_contact):  # type: ignore[no-untyped-def]
    return factories.ConversationFactory(
        shop=other_shop, contact=other_contact, subject="Secret of the other shop"
    )
