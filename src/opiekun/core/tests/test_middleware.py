import pytest


@pytest.mark.django_db
def test_a_nul_byte_in_the_session_cookie_is_ignored_not_a_server_error(client):
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get("/login/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_good_cookies_still_reach_the_view(client, agent):
    client.force_login(agent.user)
    assert client.get("/").status_code == 200
