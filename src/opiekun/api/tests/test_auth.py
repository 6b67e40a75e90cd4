import pytest
from django.test import Client, override_settings

from opiekun.agents.models import AuditLog
from opiekun.api.services import api_token_revoke
from opiekun.contacts.models import Contact
from opiekun.shops.models import ApiToken
from opiekun.testing import factories

from .conftest import ApiClient, csrf_headers

pytestmark = pytest.mark.django_db


def test_no_credentials_is_401_json(anonymous, contact):
    response = anonymous.get("contacts")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unsafe_call_without_credentials_is_401_not_403(anonymous):
    response = anonymous.post("contacts", {"email": "a@example.org"})
    assert response.status_code == 401
    assert not Contact.objects.exists()


def test_valid_token_authenticates_and_stamps_last_use(api, token, contact):
    response = api.get("contacts")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["items"]] == [contact.pk]
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header", ["Bearer opk_not-a-real-token", "Bearer ", "Bearer nope", "bearer opk_\u0105"]
)
def test_wrong_token_is_401(header, contact):
    response = ApiClient(headers={"Authorization": header}).get("contacts")
    assert response.status_code == 401


def test_revoked_token_is_401(api, token, contact):
    assert api.get("contacts").status_code == 200
    api_token_revoke(token=token)
    assert api.get("contacts").status_code == 401
    assert AuditLog.objects.filter(action="apitoken.revoke", object_id=str(token.pk)).exists()


def test_a_wrong_token_never_falls_back_to_the_session(agent, contact):
    client = Client()
    client.force_login(agent.user)
    response = ApiClient(client=client, headers={"Authorization": "Bearer opk_revoked"}).get("contacts")
    assert response.status_code == 401


def test_session_of_an_agent_reads(session, contact):
    response = session.get("contacts")
    assert response.status_code == 200
    assert response.json()["items"][0]["id"] == contact.pk


def test_session_post_without_csrf_is_403_and_writes_nothing(session):
    response = session.post("contacts", {"email": "new@example.org"})
    assert response.status_code == 403
    assert not Contact.objects.filter(identities__value="new@example.org").exists()


def test_session_post_with_csrf_writes_as_the_agent(session, agent):
    response = session.post(
        "contacts", {"email": "new@example.org", "name": "Nowy"}, headers=csrf_headers(session)
    )
    assert response.status_code == 201, response.content
    log = AuditLog.objects.get(action="contact.create")
    assert log.actor == agent and "token" not in log.data


def test_signed_in_user_without_agent_profile_is_401(db, contact):
    user = factories.UserFactory(username="not-an-agent")
    client = Client()
    client.force_login(user)
    assert ApiClient(client=client).get("contacts").status_code == 401


def test_deactivated_agent_session_is_401(session, agent):
    agent.user.is_active = False
    agent.user.save()
    assert session.get("contacts").status_code == 401


def test_token_calls_are_audited_without_actor_and_with_the_token_name(api, token):
    response = api.post("contacts", {"email": "audit@example.org"})
    assert response.status_code == 201
    log = AuditLog.objects.get(action="contact.create")
    assert log.actor is None
    assert log.data["token"] == "Shop platform" and log.data["token_id"] == token.pk
    assert log.object_id == str(response.json()["id"]) and log.shop_id == token.shop_id


@override_settings(OPIEKUN_API_RATE_LIMIT=(3, 60))
def test_rate_limit_answers_429_with_retry_after(api):
    from django.core.cache import cache

    cache.clear()
    codes = [api.get("contacts").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = api.get("contacts")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response.json()["code"] == "rate_limited"
    cache.clear()


def test_openapi_schema_and_docs_are_served(anonymous):
    schema = anonymous.get("/api/openapi.json").json()
    assert {"TokenAuth", "AgentSessionAuth"} <= set(schema["components"]["securitySchemes"])
    assert schema["components"]["schemas"]["ConversationStatus"]["enum"] == [
        "new",
        "open",
        "pending_customer",
        "pending_internal",
        "resolved",
        "closed",
    ]
    assert anonymous.get("/api/docs").status_code == 200


def test_tokens_store_only_a_hash(token):
    stored = ApiToken.objects.get(pk=token.pk)
    assert token.key not in (stored.key_sha256, stored.prefix) and stored.prefix == token.key[:12]


@pytest.mark.parametrize("cookie", ["aaaaaaaa\x00bbbbbbbb", "\u00ff" * 10, "x" * 5000])
def test_a_garbled_session_cookie_is_401_not_500(contact, cookie):
    client = Client()
    client.cookies["sessionid"] = cookie
    assert ApiClient(client=client).get("contacts").status_code == 401


@pytest.mark.parametrize(
    "language,text",
    [
        ("pl", "Wymagane uwierzytelnienie"),
        ("ru", "Требуется аутентификация"),
        ("en", "Authentication required"),
    ],
)
def test_errors_speak_the_callers_language(anonymous, language, text):
    response = anonymous.get("contacts", headers={"Accept-Language": language})
    assert response.json()["detail"].startswith(text)


def test_docs_page_works_offline(anonymous):
    page = anonymous.get("/api/docs").content.decode()
    assert "cdn." not in page and "/api/docs/assets/swagger-ui-bundle.js" in page
    bundle = anonymous.get("/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle["Content-Type"] == "text/javascript"
    assert anonymous.get("/api/docs/assets/..%2F..%2Fsettings.py").status_code == 404
    assert anonymous.get("/api/docs/assets/nope.js").status_code == 404
