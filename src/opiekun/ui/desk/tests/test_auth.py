import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from opiekun.agents.models import Agent
from opiekun.agents.services import agent_create
from opiekun.testing import factories
from opiekun.testing.factories import PASSWORD

LOGIN = "/login/"


def post_login(client, username, password, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.django_db
def test_login_page_renders_with_csrf(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b"csrfmiddlewaretoken" in response.content
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_login_signs_in_and_redirects_to_the_inbox(client, agent):
    response = post_login(client, "anna", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("desk:inbox")
    assert client.session[SESSION_KEY] == str(agent.user.pk)


@pytest.mark.django_db
def test_login_follows_a_safe_next_only(client, agent):
    ok = client.post(LOGIN, {"username": "anna", "password": PASSWORD, "next": "/c/5/"})
    assert ok["Location"] == "/c/5/"
    client.logout()
    evil = client.post(LOGIN, {"username": "anna", "password": PASSWORD, "next": "https://evil.example/"})
    assert evil["Location"] == reverse("desk:inbox")


@pytest.mark.django_db
def test_wrong_password_and_unknown_user_get_the_same_answer(client, agent):
    wrong = post_login(client, "anna", "nope-nope-nope")
    unknown = post_login(client, "nobody-here", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 400
    assert SESSION_KEY not in client.session
    assert wrong.context["error"] == unknown.context["error"]
    assert "do not match" in wrong.context["error"]


@pytest.mark.django_db
def test_fifth_failure_locks_out_even_the_right_password(client, agent):
    limit, _window = settings.OPIEKUN_LOGIN_LOCKOUT
    for _ in range(limit - 1):
        assert post_login(client, "anna", "bad-password-1").status_code == 400
    locked = post_login(client, "anna", "bad-password-1")
    assert locked.status_code == 429
    assert "blocked for 15 minutes" in locked.context["error"]
    again = post_login(client, "anna", PASSWORD)
    assert again.status_code == 429
    assert SESSION_KEY not in client.session
    # The lockout is per username + IP: the same person from another address may still sign in.
    other_ip = post_login(client, "anna", PASSWORD, ip="10.0.0.2")
    assert other_ip.status_code == 302


@pytest.mark.django_db
def test_lockout_looks_the_same_for_an_unknown_user(client, agent):
    limit, _window = settings.OPIEKUN_LOGIN_LOCKOUT
    answers = [post_login(client, "ghost", "x-password-x") for _ in range(limit)]
    real = [post_login(client, "anna", "x-password-x") for _ in range(limit)]
    assert answers[-1].status_code == real[-1].status_code == 429
    assert answers[-1].context["error"] == real[-1].context["error"]


@pytest.mark.django_db
def test_a_successful_login_resets_the_failure_count(client, agent):
    limit, _window = settings.OPIEKUN_LOGIN_LOCKOUT
    for _ in range(limit - 1):
        post_login(client, "anna", "bad-password-1")
    assert post_login(client, "anna", PASSWORD).status_code == 302
    client.logout()
    for _ in range(limit - 1):
        assert post_login(client, "anna", "bad-password-1").status_code == 400


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(client, shop, settings):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    created = agent_create(shop=shop, username="piotr", password="Long-enough-pass-42", display_name="Piotr")
    created.user.refresh_from_db()
    assert created.user.password.startswith("argon2")
    response = post_login(client, "piotr", "Long-enough-pass-42")
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(created.user.pk)


@pytest.mark.django_db
def test_desk_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/")


@pytest.mark.django_db
def test_a_user_without_agent_profile_gets_403(client, shop):
    user = factories.UserFactory(username="visitor")
    client.force_login(user)
    assert client.get("/").status_code == 403
    assert client.get("/list/").status_code == 403
    assert not Agent.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_logout_needs_post(desk):
    assert desk.get("/logout/").status_code == 405
    assert SESSION_KEY in desk.session
    response = desk.post("/logout/")
    assert response.status_code == 302
    assert SESSION_KEY not in desk.session


@pytest.mark.django_db
def test_logout_is_csrf_protected(agent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)
    assert client.post("/logout/").status_code == 403
    assert SESSION_KEY in client.session


@pytest.mark.django_db
def test_language_switch_is_remembered_on_the_agent(desk, agent, client):
    response = desk.post("/language/", {"language": "pl", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pl"
    agent.refresh_from_db()
    assert agent.ui_language == "pl"
    page = desk.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Moje" in page.content.decode()  # the nav in Polish
    # Next sign-in (another browser) gets the remembered language.
    fresh = Client()
    login = post_login(fresh, "anna", PASSWORD)
    assert login.cookies[settings.LANGUAGE_COOKIE_NAME].value == "pl"


@pytest.mark.django_db
def test_unknown_language_is_not_stored(desk, agent):
    desk.post("/language/", {"language": "xx", "next": "/"})
    agent.refresh_from_db()
    assert agent.ui_language == ""


@pytest.mark.django_db
def test_russian_ui(desk):
    desk.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    page = desk.get("/")
    assert "Мои".encode() in page.content
