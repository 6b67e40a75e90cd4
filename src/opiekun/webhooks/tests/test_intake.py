"""The webhook intake: refuse what is not authentic, store each delivery once, answer fast."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.test import Client

from opiekun.webhooks import intake, selectors, services, views
from opiekun.webhooks.models import Delivery, Endpoint
from opiekun.webhooks.registry import Accepted, Incoming, Rejected, sources


class SignedJSON:
    """A source of our own for these tests: hex HMAC-SHA256 of the body in X-Test-Signature."""

    name = "test-signed-json"

    def __init__(self) -> None:
        self.seen: list[tuple[int, list[str]]] = []
        self.poison: set[str] = set()

    def verify(self, incoming: Incoming) -> Accepted:
        given = incoming.headers.get("X-Test-Signature", "")
        expected = hmac.new(incoming.secret.encode(), incoming.body, hashlib.sha256).hexdigest()
        if not given:
            raise Rejected(401, "missing X-Test-Signature")
        if not hmac.compare_digest(given, expected):
            raise Rejected(401, "signature mismatch")
        try:
            payload = json.loads(incoming.body)
        except ValueError as exc:
            raise Rejected(400, f"malformed JSON: {exc}") from None
        if payload.get("ping"):
            return Accepted(key="ping", store=False)
        if "form" in payload:
            return Accepted(key=incoming.form["id"][0], answer=b"<Response/>", content_type="text/xml")
        return Accepted(
            key=str(payload["id"]), topic=payload.get("topic", ""), keep_headers=("X-Test-Topic",)
        )

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if delivery.key in self.poison:
                raise ValueError(f"cannot read {delivery.key}")
        self.seen.append((endpoint.pk, [d.key for d in deliveries]))


SOURCE = SignedJSON()
sources.register(SOURCE.name, SOURCE)


@pytest.fixture
def source() -> Iterator[SignedJSON]:
    SOURCE.seen.clear()
    SOURCE.poison.clear()
    selectors.forget_tokens()
    views._noted.clear()
    yield SOURCE


@pytest.fixture
def endpoint(shop, source) -> Endpoint:
    return services.endpoint_create(shop=shop, source=source.name, secret="s3cret-value", label="Test shop")


def post(
    endpoint: Endpoint, payload: dict | bytes, *, secret: str = "s3cret-value", sign: bool = True, **headers
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if sign:
        headers["HTTP_X_TEST_SIGNATURE"] = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return Client().post(endpoint.url_path, body, content_type="application/json", **headers)


def test_an_authentic_delivery_is_stored_once_and_a_replay_is_answered_as_a_duplicate(endpoint):
    first = post(endpoint, {"id": 7, "topic": "order.created"}, HTTP_X_TEST_TOPIC="orders")
    again = post(endpoint, {"id": 7, "topic": "order.created"})
    assert (first.status_code, first.json()) == (200, {"ok": True, "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"ok": True, "duplicate": True})
    stored = Delivery.objects.get()
    assert (stored.key, stored.topic, stored.processed_at) == ("7", "order.created", None)
    assert stored.headers == {"X-Test-Topic": "orders"}
    assert json.loads(bytes(stored.body)) == {"id": 7, "topic": "order.created"}


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"sign": False}, "missing X-Test-Signature"), ({"secret": "guessed"}, "signature mismatch")],
)
def test_an_unsigned_or_wrongly_signed_delivery_is_refused_with_401_and_nothing_is_stored(
    endpoint, kwargs, reason
):
    response = post(endpoint, {"id": 1}, **kwargs)
    assert (response.status_code, response.json()) == (401, {"error": reason})
    assert not Delivery.objects.exists()
    endpoint.refresh_from_db()
    assert endpoint.last_rejection == f"401 {reason}" and endpoint.last_rejected_at is not None


def test_malformed_json_is_a_400_with_the_reason_never_a_500(endpoint):
    response = post(endpoint, b'{"id": 1,,}')
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON")
    assert not Delivery.objects.exists()


def test_an_unknown_or_switched_off_endpoint_answers_404(endpoint, client):
    assert client.post("/hooks/not-a-token/", b"{}", content_type="application/json").status_code == 404
    assert client.get(endpoint.url_path).status_code == 405  # this source takes POST only
    services.endpoint_set_active(endpoint=endpoint, active=False)
    selectors.forget_tokens()
    assert post(endpoint, {"id": 1}).status_code == 404
    assert not Delivery.objects.exists()


def test_an_oversized_body_is_refused_with_413(endpoint):
    response = post(endpoint, b"x" * (views.MAX_BODY + 1))
    assert response.status_code == 413
    assert not Delivery.objects.exists()


def test_a_ping_is_answered_and_not_stored(endpoint):
    assert post(endpoint, {"ping": True}).json() == {"ok": True, "duplicate": False}
    assert not Delivery.objects.exists()


def test_the_form_body_reaches_the_source_parsed(endpoint):
    body = json.dumps({"form": 1}).encode()
    signature = hmac.new(b"s3cret-value", body, hashlib.sha256).hexdigest()
    seen: dict = {}

    original = SOURCE.verify

    def spy(incoming: Incoming) -> Accepted:
        seen["form"] = dict(incoming.form)
        seen["url"] = incoming.url
        return Accepted(key="CA123", answer=b"<Response/>", content_type="text/xml")

    SOURCE.verify = spy  # type: ignore[method-assign]
    try:
        response = Client().post(
            endpoint.url_path + "?x=1",
            "id=CA123&status=completed",
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TEST_SIGNATURE=signature,
        )
    finally:
        SOURCE.verify = original  # type: ignore[method-assign]
    assert (response.status_code, response.content, response["Content-Type"]) == (
        200,
        b"<Response/>",
        "text/xml",
    )
    assert seen["form"] == {"id": ["CA123"], "status": ["completed"]}
    assert seen["url"] == f"http://testserver{endpoint.url_path}?x=1"
    assert Delivery.objects.get().key == "CA123"


def test_when_storing_fails_the_platform_is_told_to_retry(endpoint, monkeypatch):
    def broken(arrivals):
        raise RuntimeError("disk full")

    monkeypatch.setattr(intake, "insert_deliveries", broken)
    response = post(endpoint, {"id": 3})
    assert response.status_code == 503
    assert not Delivery.objects.exists()


def test_a_delivery_for_one_shops_endpoint_is_stored_on_that_endpoint_only(endpoint, other_shop, source):
    theirs = services.endpoint_create(shop=other_shop, source=source.name, secret="their-secret")
    assert post(endpoint, {"id": 5}, secret="their-secret").status_code == 401
    assert post(theirs, {"id": 5}, secret="their-secret").status_code == 200
    assert list(Delivery.objects.values_list("endpoint_id", flat=True)) == [theirs.pk]


def test_the_secret_is_sealed_at_rest_and_never_in_repr(endpoint):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_endpoint WHERE id = %s", [endpoint.pk])
        (raw,) = cursor.fetchone()
    assert "s3cret-value" not in raw and raw.startswith("gAAAA")
    assert Endpoint.objects.get().signing_secret == "s3cret-value"
    assert "s3cret" not in repr(endpoint)


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_share_commits_and_replays_are_stored_once(shop, source):
    endpoint = services.endpoint_create(shop=shop, source=source.name, secret="s3cret-value")
    outcomes: list[tuple[str, bool]] = []
    lock = threading.Lock()
    batches: list[int] = []
    original = intake.insert_deliveries

    def counting(arrivals):
        batches.append(len(arrivals))
        return original(arrivals)

    intake.insert_deliveries = counting  # type: ignore[assignment]

    def sender(offset: int) -> None:
        try:
            for i in range(25):
                key = str((offset * 25 + i) % 120)  # 16 threads x 25 = 400 deliveries of 120 distinct keys
                arrival = intake.group.store(intake.Arrival(endpoint.pk, key, "", b"{}", {}))
                assert arrival.error is None
                with lock:
                    outcomes.append((key, arrival.duplicate))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(16)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        intake.insert_deliveries = original  # type: ignore[assignment]
    assert len(outcomes) == 400
    assert Delivery.objects.filter(endpoint=endpoint).count() == 120
    first_times = [key for key, duplicate in outcomes if not duplicate]
    assert sorted(first_times) == sorted(str(k) for k in range(120))  # each key reported new exactly once
    assert sum(batches) == 400 and max(batches) > 1  # commits were shared


class QueryCallback:
    """A provider that calls with GET and a secret in the query (as SMSAPI's delivery reports do)."""

    name = "test-query-callback"
    methods = ("GET", "POST")

    def verify(self, incoming: Incoming) -> Accepted:
        if incoming.form.get("s", [""])[0] != incoming.secret:
            raise Rejected(401, "wrong callback secret")
        if "echo" in incoming.form:
            return Accepted(key="echo", store=False, answer=incoming.form["echo"][0].encode())
        return Accepted(key=incoming.form["MsgId"][0], answer=b"OK")

    def process(self, endpoint: Endpoint, deliveries: list[Delivery]) -> None:
        pass


sources.register(QueryCallback.name, QueryCallback())


def test_a_source_that_accepts_get_gets_its_query_string_as_the_body(shop, source, client):
    endpoint = services.endpoint_create(shop=shop, source=QueryCallback.name, secret="k3y")
    response = client.get(endpoint.url_path, {"s": "k3y", "MsgId": "A1", "status": "403"})
    assert (response.status_code, response.content) == (200, b"OK")
    stored = Delivery.objects.get()
    assert stored.key == "A1" and bytes(stored.body) == b"s=k3y&MsgId=A1&status=403"
    echo = client.get(endpoint.url_path, {"s": "k3y", "echo": "zd-42"})
    assert (echo.status_code, echo.content) == (200, b"zd-42")
    assert client.get(endpoint.url_path, {"s": "nope", "MsgId": "A2"}).status_code == 401
    assert Delivery.objects.count() == 1
    assert client.put(endpoint.url_path).status_code == 405
