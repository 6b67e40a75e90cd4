"""Composing the outgoing reply: threading headers, case tag, signature, attachments, injection guard."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from opiekun.inboxes.base import OutboundAttachment, OutboundMessage
from opiekun.inboxes.drivers.email.compose import (
    MAX_REFERENCES,
    HeaderInjection,
    InvalidAddress,
    capped_references,
    compose,
    subject_line,
)

BASE = OutboundMessage(
    message_id=1,
    conversation_number=1234,
    subject="Zwrot paczki",
    text="Dzień dobry,\nprzyjęliśmy zwrot.",
    to_name="Jan Kowalski",
    to_email="jan@example.com",
    from_name="Anna Nowak – Sklep Demo",  # noqa: RUF001 - a real dash in a real name
    from_email="anna@sklep.pl",
    signature="Anna Nowak\nDział obsługi klienta",
    language="pl",
)


def _roundtrip(mail: EmailMessage) -> EmailMessage:
    """What the receiving side parses from the wire bytes."""
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _compose(message: OutboundMessage = BASE, **kwargs: object) -> EmailMessage:
    values: dict[str, object] = {
        "message_id": "reply-1@sklep.pl",
        "in_reply_to": "CAF=abc@mail.gmail.com",
        "references": ["root@shop.pl", "CAF=abc@mail.gmail.com"],
        "reply_to": "support+t0k3n@sklep.pl",
        "domain": "sklep.pl",
    }
    values.update(kwargs)
    return _roundtrip(compose(message, **values))  # type: ignore[arg-type]


def test_threading_headers_and_addresses() -> None:
    mail = _compose()
    assert mail["Message-ID"] == "<reply-1@sklep.pl>"
    assert mail["In-Reply-To"] == "<CAF=abc@mail.gmail.com>"
    assert mail["References"] == "<root@shop.pl> <CAF=abc@mail.gmail.com>"
    assert mail["Subject"] == "Re: Zwrot paczki [#1234]"
    assert mail["From"].addresses[0].addr_spec == "anna@sklep.pl"
    assert mail["From"].addresses[0].display_name == "Anna Nowak – Sklep Demo"  # noqa: RUF001
    assert mail["To"].addresses[0].addr_spec == "jan@example.com"
    assert mail["Reply-To"].addresses[0].addr_spec == "support+t0k3n@sklep.pl"
    assert mail["Content-Language"] == "pl"
    assert mail["Date"].datetime is not None
    assert "Auto-Submitted" not in mail  # a human answer: the customer's autoresponder may answer it


def test_ids_given_with_angle_brackets_are_not_doubled() -> None:
    mail = _compose(message_id="<x@sklep.pl>", in_reply_to="<y@gmail.com>", references=["<y@gmail.com>"])
    assert (mail["Message-ID"], mail["In-Reply-To"], mail["References"]) == (
        "<x@sklep.pl>",
        "<y@gmail.com>",
        "<y@gmail.com>",
    )


def test_in_reply_to_closes_the_references_chain() -> None:
    mail = _compose(references=["root@shop.pl"], in_reply_to="last@gmail.com")
    assert mail["References"] == "<root@shop.pl> <last@gmail.com>"


def test_empty_message_id_gets_one_at_the_domain() -> None:
    mail = _compose(message_id="")
    assert mail["Message-ID"].endswith("@sklep.pl>")


@pytest.mark.parametrize(
    ("subject", "reply", "expected"),
    [
        ("Zwrot paczki", True, "Re: Zwrot paczki [#1234]"),
        ("Zwrot paczki", False, "Zwrot paczki [#1234]"),
        ("Re: Zwrot paczki [#1234]", True, "Re: Zwrot paczki [#1234]"),
        ("RE: Zwrot [#1234] paczki", True, "RE: Zwrot [#1234] paczki"),
        ("Odp: Zwrot paczki", True, "Odp: Zwrot paczki [#1234]"),
        ("Отв: Возврат", True, "Отв: Возврат [#1234]"),
        ("Zwrot\n\tpaczki", False, None),  # folded input is an injection attempt, not a subject
        ("", True, "Re: [#1234]"),
        ("Pytanie [#12345]", False, "Pytanie [#12345] [#1234]"),  # another number is not ours
    ],
)
def test_subject_carries_the_case_tag_exactly_once(subject: str, reply: bool, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(HeaderInjection):
            subject_line(subject, 1234, reply=reply)
        return
    assert subject_line(subject, 1234, reply=reply) == expected


def test_first_message_without_in_reply_to_has_no_re_and_no_reference_headers() -> None:
    mail = _compose(in_reply_to="", references=[])
    assert mail["Subject"] == "Zwrot paczki [#1234]"
    assert "In-Reply-To" not in mail and "References" not in mail


def test_references_are_capped_keeping_the_first_and_the_latest() -> None:
    refs = [f"m{i}@x.pl" for i in range(60)]
    capped = capped_references(refs, "m60@x.pl")
    assert len(capped) == MAX_REFERENCES
    assert capped[0] == "m0@x.pl" and capped[-1] == "m60@x.pl" and capped[-2] == "m59@x.pl"
    mail = _compose(references=refs, in_reply_to="m60@x.pl")
    assert mail["References"].split()[0] == "<m0@x.pl>" and len(mail["References"].split()) == MAX_REFERENCES


def test_signature_is_appended_after_the_dash_dash_space_line() -> None:
    mail = _compose()
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == "Dzień dobry,\nprzyjęliśmy zwrot.\n\n-- \nAnna Nowak\nDział obsługi klienta\n"


def test_html_alternative_and_escaped_signature() -> None:
    mail = _compose(replace(BASE, html="<p>Dzień dobry</p>", signature="Anna <anna@sklep.pl>"))
    assert mail.get_content_type() == "multipart/alternative"
    html = mail.get_body(("html",)).get_content()
    assert html.startswith("<p>Dzień dobry</p>") and "Anna &lt;anna@sklep.pl&gt;" in html
    assert "Dzień dobry" in mail.get_body(("plain",)).get_content()


def test_attachments_with_non_ascii_names(tmp_path: Path) -> None:
    pdf, img = tmp_path / "a.pdf", tmp_path / "b.png"
    pdf.write_bytes(b"%PDF-1.4 fake")
    img.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    message = replace(
        BASE,
        attachments=(
            OutboundAttachment("Faktura zażółć №5.pdf", "application/pdf", pdf),
            OutboundAttachment("zdjęcie.png", "image/png", img),
        ),
    )
    composed = compose(
        message, message_id="a@sklep.pl", in_reply_to="", references=(), reply_to="", domain=""
    )
    wire = composed.as_bytes()
    assert b"filename*=utf-8''Faktura%20za%C5%BC%C3%B3%C5%82%C4%87" in wire  # RFC 2231
    mail = _roundtrip(composed)
    found = {a.get_filename(): (a.get_content_type(), a.get_content()) for a in mail.iter_attachments()}
    assert found == {
        "Faktura zażółć №5.pdf": ("application/pdf", b"%PDF-1.4 fake"),
        "zdjęcie.png": ("image/png", b"\x89PNG\r\n\x1a\nfake"),
    }
    assert mail["Content-Language"] == "pl"


def test_non_ascii_text_is_sent_7bit_safe() -> None:
    wire = compose(
        BASE, message_id="a@sklep.pl", in_reply_to="", references=(), reply_to="", domain=""
    ).as_bytes()
    assert max(wire) < 128  # survives a relay without 8BITMIME


def test_auto_submitted_only_when_asked_for() -> None:
    mail = _compose(auto_submitted="auto-replied")
    assert mail["Auto-Submitted"] == "auto-replied"


def test_date_is_the_given_time() -> None:
    mail = _compose(now=dt.datetime(2025, 6, 2, 8, 30, tzinfo=dt.UTC))
    assert mail["Date"].datetime == dt.datetime(2025, 6, 2, 8, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "Hi\r\nBcc: victim@example.com"},
        {"subject": "Hi\nBcc: victim@example.com"},
        {"subject": "Hi\x00"},
        {"to_name": "Jan\r\nBcc: victim@example.com"},
        {"from_name": "Anna\nX-Evil: 1"},
        {"to_email": "jan@example.com\r\nBcc: victim@example.com"},
        {"reply_to": "support@sklep.pl\nBcc: v@example.com"},
        {"language": "pl\r\nX-Evil: 1"},
        {"language": "pl; x"},
    ],
)
def test_header_injection_is_refused(change: dict[str, str]) -> None:
    message = replace(BASE, **change)  # type: ignore[arg-type]
    with pytest.raises(HeaderInjection) as exc:
        compose(message, message_id="a@sklep.pl", in_reply_to="", references=(), reply_to="", domain="")
    assert "line break" in str(exc.value) or "not a" in str(exc.value)


@pytest.mark.parametrize(
    "field_values",
    [
        {"message_id": "a@sklep.pl>\r\nBcc: v@example.com"},
        {"in_reply_to": "b@x\nBcc: v@example.com"},
        {"references": ["ok@x.pl", "bad@x.pl\r\nBcc: v@example.com"]},
        {"reply_to": "support+t@sklep.pl\r\nBcc: v@example.com"},
        {"message_id": "no-at-sign"},
    ],
)
def test_threading_values_are_checked_too(field_values: dict[str, object]) -> None:
    values: dict[str, object] = {
        "message_id": "a@sklep.pl",
        "in_reply_to": "",
        "references": (),
        "reply_to": "",
        "domain": "sklep.pl",
    }
    values.update(field_values)
    with pytest.raises(HeaderInjection):
        compose(BASE, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "address", ["", "jan", "jan@", "@example.com", "jan kowalski@example.com", "a@b@c.pl", "jan@localhost"]
)
def test_invalid_recipient_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidAddress):
        compose(replace(BASE, to_email=address), message_id="a@sklep.pl", domain="sklep.pl")


def test_international_addresses_are_accepted() -> None:
    mail = compose(replace(BASE, to_email="łukasz@przykład.pl"), message_id="a@sklep.pl", domain="sklep.pl")
    assert mail["To"].addresses[0].addr_spec == "łukasz@przykład.pl"
