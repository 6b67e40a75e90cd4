"""`opiekun phone`: lines, callbacks and figures, one JSON object per line."""

from __future__ import annotations

import datetime as dt
import io
import json

from django.core.management import call_command

from opiekun.core import clock
from opiekun.telephony import services
from opiekun.telephony.models import Callback


def _run(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("phone", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_phone_command_json(shop):
    line = services.line_create(shop=shop, provider="generic", secret="generic-secret-value")
    now = clock.now()
    Callback.objects.create(
        shop=shop,
        number="+48601000030",
        first_call_at=now,
        last_call_at=now,
        due_at=now - dt.timedelta(minutes=1),
        created_at=now,
    )
    (listed,) = _run("lines")
    assert listed["provider"] == "generic" and listed["webhook"].endswith(line.endpoint.url_path)
    assert "generic-secret-value" not in json.dumps(listed)
    (overdue,) = _run("callbacks", "--view", "overdue")
    assert overdue["number"] == "+48601000030" and overdue["overdue"] is True
    (stats,) = _run("stats", "--days", "1")
    assert stats["total"]["callbacks"] == 1 and stats["total"]["callbacks_open"] == 1
    assert _run("escalate") == [{"escalated": 1}]
    assert Callback.objects.get().escalated_at is not None


def test_admin_pages_load_and_never_show_credentials(shop, agent):
    from django.test import Client

    line = services.line_create(
        shop=shop, provider="twilio", credentials={"account_sid": "AC9", "auth_token": "tok-secret-99"}
    )
    agent.user.is_staff = agent.user.is_superuser = True
    agent.user.save()
    client = Client()
    client.force_login(agent.user)
    for name in ("phonepolicy", "phoneline", "call", "callback"):
        assert client.get(f"/admin/telephony/{name}/").status_code == 200
    page = client.get(f"/admin/telephony/phoneline/{line.pk}/change/")
    assert page.status_code == 200 and b"tok-secret-99" not in page.content
    assert "tok-secret-99" not in repr(line)
