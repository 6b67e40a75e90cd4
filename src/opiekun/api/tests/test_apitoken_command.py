import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from opiekun.agents.models import AuditLog
from opiekun.shops.access import api_token_authenticate
from opiekun.shops.models import ApiToken

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("apitoken", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_key_once_and_it_authenticates(shop):
    out, err = run("create", "--shop", "demo", "--name", "Shop platform")
    key = out.strip()
    assert key.startswith("opk_") and "not shown again" in err
    token = ApiToken.objects.get()
    assert (token.shop, token.name) == (shop, "Shop platform")
    assert api_token_authenticate(key) == token
    listing, _ = run("list")
    assert key not in listing and token.prefix in listing and "last used" in listing


def test_create_json(shop):
    out, _ = run("create", "--shop", "demo", "--name", "ERP", "--json")
    row = json.loads(out)
    assert row["key"].startswith("opk_") and row["shop"] == "demo" and row["name"] == "ERP"


def test_create_for_an_unknown_shop_fails(db):
    with pytest.raises(CommandError):
        run("create", "--shop", "nope", "--name", "x")
    assert not ApiToken.objects.exists()


def test_list_json_one_object_per_line_and_per_shop(shop, other_shop):
    run("create", "--shop", "demo", "--name", "A")
    run("create", "--shop", "other", "--name", "B")
    rows = [json.loads(line) for line in run("list", "--json")[0].splitlines()]
    assert sorted(r["name"] for r in rows) == ["A", "B"]
    only = [json.loads(line) for line in run("list", "--shop", "other", "--json")[0].splitlines()]
    assert [r["name"] for r in only] == ["B"]


def test_revoke_by_prefix_and_by_id(shop):
    key = run("create", "--shop", "demo", "--name", "A")[0].strip()
    token = ApiToken.objects.get()
    out, _ = run("revoke", key[:12])
    assert "Revoked" in out
    assert api_token_authenticate(key) is None
    assert AuditLog.objects.filter(action="apitoken.revoke").count() == 1
    run("revoke", str(token.pk))  # idempotent
    assert AuditLog.objects.filter(action="apitoken.revoke").count() == 1


def test_revoke_of_an_unknown_token_fails(shop, other_shop):
    run("create", "--shop", "other", "--name", "B")
    token = ApiToken.objects.get()
    with pytest.raises(CommandError):
        run("revoke", "opk_nothing")
    with pytest.raises(CommandError):
        run("revoke", str(token.pk), "--shop", "demo")  # another shop's token is not found
    token.refresh_from_db()
    assert token.revoked_at is None
