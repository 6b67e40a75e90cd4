"""RedactSecretsFilter: a password, a token or a portal link never reaches a log record's output."""

from __future__ import annotations

import io
import logging

import pytest

from opiekun.core.logging import RedactSecretsFilter, redact


@pytest.fixture
def log():  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("opiekun.tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login failed password=hunter2 user=anna", "hunter2"),
        ('{"password": "s3cr3t!", "user": "anna"}', "s3cr3t!"),
        ("inbox secrets {'api_key': 'ak_live_123'}", "ak_live_123"),
        ("POST /webhook?token=abc123&x=1", "abc123"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("smtp_password: hunter2", "hunter2"),
        ("OPIEKUN_SECRET_KEY=k3y-v4lu3", "k3y-v4lu3"),
        ("GET /portal/t/eyJjIjoxLCJzIjoxfQ:1xYV:sig-part/?next=7 200", "eyJjIjoxLCJzIjoxfQ:1xYV:sig-part"),
        ("connecting to postgresql://opiekun:db-pass@db.internal/opiekun", "db-pass"),
        ("redis://:r3dis@cache:6379/0 is down", "r3dis"),
        ("api token opk_AbCdEfGhIjKlMnOp used", "AbCdEfGhIjKlMnOp"),
        ("Cookie: sessionid=9f8e7d6c5b4a", "9f8e7d6c5b4a"),
    ],
)
def test_secret_values_are_masked(log, text, secret):
    logger, stream = log
    logger.warning(text)
    output = stream.getvalue()
    assert secret not in output
    assert "***" in output


def test_arguments_are_masked_after_formatting(log):
    logger, stream = log
    logger.info("user %s set password=%s", "anna", "hunter2")
    assert stream.getvalue() == "INFO user anna set password=***\n"


def test_tracebacks_are_masked_too(log):
    logger, stream = log
    try:
        raise RuntimeError("could not open http://x.example/portal/t/SIGNED.TOKEN.VALUE/ with token=tok-9")
    except RuntimeError:
        logger.exception("delivery crashed")
    output = stream.getvalue()
    assert "Traceback" in output and "RuntimeError" in output
    assert "SIGNED.TOKEN.VALUE" not in output and "tok-9" not in output


def test_ordinary_text_is_left_alone(log):
    logger, stream = log
    for text in (
        "Parcel SD-10452 shipped to Kraków",
        "the customer asked about tokens in a board game",
        "Zamówienie #12 — hasło do paczkomatu podam telefonicznie",
    ):
        logger.info(text)
    assert stream.getvalue().splitlines() == [
        "INFO Parcel SD-10452 shipped to Kraków",
        "INFO the customer asked about tokens in a board game",
        "INFO Zamówienie #12 — hasło do paczkomatu podam telefonicznie",
    ]


def test_a_record_is_never_dropped_even_with_a_broken_format():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "broken %s %s", ("one",), None)
    assert RedactSecretsFilter().filter(record) is True


def test_redact_is_idempotent():
    once = redact("password=hunter2 /portal/t/abc/")
    assert redact(once) == once == "password=*** /portal/t/***/"
