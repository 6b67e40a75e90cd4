"""Schemathesis over every operation of the OpenAPI document: whatever the input, never a 5xx.

Runs in-process through the WSGI handler against a seeded shop, with a valid token. Generated ids
that are valid numbers are mapped onto the seeded objects so the fuzzing reaches the real code
paths (an unknown id would only ever test the 404); malformed ids go through untouched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from opiekun.config.wsgi import application
from opiekun.conversations.attachments import CheckedFile
from opiekun.conversations.services import note_add
from opiekun.shops.access import api_token_create
from opiekun.testing import factories

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@dataclass
class Seed:
    key: str
    ids: dict[str, list[int]]


@pytest.fixture
def seed(db, settings, tmp_path) -> Seed:  # type: ignore[no-untyped-def]
    settings.ATTACHMENTS_DIR = tmp_path
    settings.OPIEKUN_API_RATE_LIMIT = (1_000_000, 60)
    shop = factories.ShopFactory(slug="demo", name="Sklep Demo")
    factories.InboxFactory(shop=shop, kind="webform", name="Contact form")
    team = factories.TeamFactory(shop=shop, name="Support")
    anna = factories.AgentFactory(shop=shop, display_name="Anna Nowak", user__username="anna")
    piotr = factories.AgentFactory(shop=shop, display_name="Piotr Wiśniewski", user__username="piotr")
    jan = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.org")
    ola = factories.ContactFactory(shop=shop, name="Ola", email="ola@example.org")
    conv = factories.ConversationFactory(shop=shop, contact=jan, subject="Parcel")
    second = factories.ConversationFactory(shop=shop, contact=ola, subject="Refund")
    factories.MessageFactory(conversation=conv, text="Where is it?")
    note = note_add(
        conversation=conv,
        agent=anna,
        text="Asked the warehouse",
        files=[CheckedFile("log.txt", b"warehouse log", "text/plain")],
    )
    # Another shop's objects exist too: fuzzing must never reach them (they stay 404).
    other = factories.ShopFactory(slug="other", name="Other")
    factories.ConversationFactory(shop=other)
    _, key = api_token_create(shop=shop, name="schemathesis")
    return Seed(
        key=key,
        ids={
            "contact": [jan.pk, ola.pk],
            "conversation": [conv.pk, second.pk],
            "agent": [anna.pk, piotr.pk],
            "team": [team.pk],
            "attachment": [note.attachments.get().pk],
        },
    )


@pytest.fixture
def keep_test_transaction():  # type: ignore[no-untyped-def]
    """Django closes "old" connections around each WSGI request, which would end the test's transaction
    (the test client unhooks this the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


ID_FIELDS = {
    "contact_id": "contact",
    "source_id": "contact",
    "conversation_id": "conversation",
    "agent_id": "agent",
    "assignee_id": "agent",
    "caretaker_id": "agent",
    "backup_caretaker_id": "agent",
    "team_id": "team",
    "attachment_id": "attachment",
}


def _map_ids(values: Any, seed: Seed, rng: random.Random) -> None:
    """Point valid generated ids at seeded objects (most of the time), leaving malformed ones as they are."""
    if not isinstance(values, dict):
        return
    for name, kind in ID_FIELDS.items():
        value = values.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1 and rng.random() < 0.85:
            values[name] = rng.choice(seed.ids[kind])


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_fail(case, seed, keep_test_transaction):  # type: ignore[no-untyped-def]
    rng = random.Random(repr(case.path_parameters) + repr(case.body)[:200])
    _map_ids(case.path_parameters, seed, rng)
    _map_ids(case.query, seed, rng)
    _map_ids(case.body, seed, rng)
    response = case.call(headers={"Authorization": f"Bearer {seed.key}"})
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
