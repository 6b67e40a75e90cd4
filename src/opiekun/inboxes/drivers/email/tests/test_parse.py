"""parse_mail and fingerprint on our own hand-written fixtures (the corpus runs in tests/corpus)."""

# ruff: noqa: RUF001 -- Cyrillic and Polish letters in patterns and samples are the point

from __future__ import annotations

import datetime as dt
import random
import time
import tracemalloc
from pathlib import Path

import pytest

from opiekun.inboxes.drivers.email.parse import (
    MAX_DEPTH,
    MailParseError,
    MailTooComplex,
    ParsedMail,
    fingerprint,
    parse_mail,
)

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str) -> ParsedMail:
    return parse_mail(load(name))


# --- charsets and headers ----------------------------------------------------------------------------


def test_gmail_utf8_headers_threading_and_language() -> None:
    mail = parse("gmail_pl_utf8.eml")
    assert mail.subject == "Re: [#1042] Zamówienie nr 5521 – brak paczki"
    assert (mail.sender.name, mail.sender.email) == ("Anna Kowalska", "anna.kowalska@gmail.com")
    assert mail.message_id == "CAF3kq9Hn2x=abc@mail.gmail.com"
    assert mail.in_reply_to == "opiekun.1042.7@sklep-demo.pl"
    assert mail.references == ("opiekun.1042.1@sklep-demo.pl", "opiekun.1042.7@sklep-demo.pl")
    assert mail.delivered_to == ("pomoc@sklep-demo.pl",)
    assert mail.date == dt.datetime(2025, 3, 3, 9, 15, 42, tzinfo=dt.UTC)
    assert "paczka nadal nie dotarła" in mail.text
    assert "\r" not in mail.text
    assert mail.language == "pl"
    assert not mail.auto_submitted and mail.bounce is None


@pytest.mark.parametrize(
    ("name", "subject", "sender_name", "text_part", "language"),
    [
        ("onet_iso8859_2_qp.eml", "Zwrot butów - prośba", "Jan Nowak", "czy mogę zwrócić buty", "pl"),
        ("wp_windows1250_bottom.eml", "Re: Płatność BLIK", "Piotr Zieliński", "Płaciłem BLIKiem", "pl"),
        (
            "outlook_ru_windows1251.eml",
            "RE: Ваш заказ 5540 отправлен",
            "Ольга Смирнова",
            "пришёл повреждённым",
            "ru",
        ),
        ("mailru_koi8r.eml", "Re: Посылка", "Ирина Петрова", "Спасибо, всё получила.", "ru"),
        ("iso2022jp.eml", "注文について", "山田太郎", "商品がまだ届いていません。", ""),
    ],
)
def test_every_charset_decodes(
    name: str, subject: str, sender_name: str, text_part: str, language: str
) -> None:
    mail = parse(name)
    assert mail.subject == subject
    assert mail.sender.name == sender_name
    assert text_part in mail.text
    assert "\ufffd" not in mail.text
    assert mail.language == language
    assert not [d for d in mail.defects if "guessed" in d or "replaced" in d]


def test_mislabelled_and_split_encoded_words() -> None:
    mail = parse("mislabelled.eml")
    assert mail.subject == "Faktura za zamówienie nr 12"  # a character split over two B-words
    assert mail.sender.name == "Małgorzata Wójcik"  # UTF-8 bytes labelled iso-8859-1
    assert mail.text == "Proszę o fakturę na firmę. Zażółć gęślą jaźń."  # UTF-8 body labelled us-ascii
    assert any("declared iso-8859-1 but is UTF-8" in d for d in mail.defects)


def test_malformed_sender_is_repaired_and_recorded() -> None:
    mail = parse("malformed_from.eml")
    assert mail.sender.email == "jankowalski@example.pl"
    assert mail.date is None
    assert "date: unparseable" in mail.defects
    assert "from: malformed address repaired" in mail.defects
    assert mail.to[0].email == "pomoc@sklep-demo.pl"


def test_unusable_from_falls_back_to_sender_header() -> None:
    mail = parse("unusable_from.eml")
    assert (mail.sender.name, mail.sender.email) == ("Biuro Obslugi", "biuro@example.pl")
    assert "from: unusable, sender taken from sender" in mail.defects


# --- bodies and attachments --------------------------------------------------------------------------


def test_rfc2231_and_rfc2047_filenames() -> None:
    mail = parse("rfc2231_filenames.eml")
    names = [a.filename for a in mail.attachments]
    assert names == ["Faktura nr 12 żółw.pdf", "zdjęcie uszkodzenia pudełka.png", "lista_zwrotów.csv"]
    pdf, png, csv = mail.attachments
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content_type == "application/pdf"
    assert png.content.startswith(b"\x89PNG")
    assert csv.content == b"sku;ilosc\nBUT-42;1"  # the CRLF before a boundary belongs to the boundary
    assert mail.text == "W załączniku faktura i zdjęcie uszkodzenia."


def test_html_is_sanitised_and_keeps_cid_images() -> None:
    mail = parse("html_cid_image.eml")
    assert 'src="cid:foto1@example.pl"' in mail.html
    assert "<script" not in mail.html and "alert" not in mail.html and "onerror" not in mail.html
    assert "javascript:" not in mail.html
    assert 'href="https://example.pl/zamowienie"' in mail.html
    (image,) = mail.attachments
    assert (image.filename, image.content_id, image.inline) == ("foto.png", "foto1@example.pl", True)
    # no text/plain part: the text is derived from the HTML, without style or script content
    assert mail.text.startswith("Tak wygląda uszkodzony produkt:")
    assert "color:red" not in mail.text and "alert" not in mail.text


def test_unreferenced_cid_part_is_a_normal_attachment() -> None:
    raw = load("html_cid_image.eml").replace(b"cid:foto1@example.pl", b"https://example.pl/x.png")
    (image,) = parse_mail(raw).attachments
    assert image.inline is False


def test_html_only_outlook_mail_gets_text() -> None:
    mail = parse("outlook_pl_html_only.eml")
    assert mail.text.startswith("Dziękuję, termin pasuje.\n\nEwa")
    assert "Od: Sklep Demo <pomoc@sklep-demo.pl>" in mail.text
    assert "<b>Od:</b>" in mail.html


def test_forwarded_message_is_an_eml_attachment_and_not_in_the_text() -> None:
    mail = parse("forwarded_rfc822.eml")
    assert mail.text == "Przesyłam potwierdzenie, kwota się nie zgadza."
    (eml,) = mail.attachments
    assert eml.filename == "Potwierdzenie zamowienia 5600.eml"
    assert eml.content_type == "message/rfc822"
    assert b"Message-ID: <order-5600@sklep-demo.pl>" in eml.content
    assert parse_mail(eml.content).subject == "Potwierdzenie zamowienia 5600"


def test_uuencoded_blocks_and_parts_become_attachments() -> None:
    mail = parse("uuencode.eml")
    inline, part = mail.attachments
    assert (inline.filename, inline.content) == ("paczka.txt", b"Numer paczki: 0012345678\n")
    assert (part.filename, part.content) == ("list.txt", b"Hello Opiekun")
    assert "begin 644" not in mail.text and "Numer w zalaczniku." in mail.text


# --- auto-replies and bounces ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("vacation_pl.eml", "auto-submitted: auto-replied"),
        ("vacation_ru.eml", "subject: vacation"),
        ("vacation_en.eml", "x-auto-response-suppress"),
    ],
)
def test_vacation_auto_replies(name: str, reason: str) -> None:
    mail = parse(name)
    assert mail.auto_submitted is True
    assert mail.auto_reason == reason
    assert mail.bounce is None


@pytest.mark.parametrize(
    "subject",
    ["Automatyczna odpowiedź: Zwrot", "Nieobecność", "Out of Office: Order 1", "Автоответ: Заказ",
     "Автоматический ответ: заказ", "Auto: Zamówienie 12"],
)  # fmt: skip
def test_vacation_subjects_alone_are_enough(subject: str) -> None:
    raw = load("gmail_pl_utf8.eml").replace(
        b"Subject: =?UTF-8?Q?Re:_[#1042]_Zam=C3=B3wienie_nr_5521_=E2=80=93_brak_paczki?=",
        b"Subject: " + subject.encode(),
    )
    mail = parse_mail(raw)
    assert mail.subject == subject
    assert mail.auto_submitted and mail.auto_reason == "subject: vacation"


def test_a_customer_subject_that_mentions_absence_is_not_automatic() -> None:
    raw = load("gmail_pl_utf8.eml").replace(
        b"Subject: =?UTF-8?Q?Re:_[#1042]_Zam=C3=B3wienie_nr_5521_=E2=80=93_brak_paczki?=",
        "Subject: Zwrot podczas mojej nieobecności".encode(),
    )
    assert parse_mail(raw).auto_submitted is False


def test_dsn_bounce_names_the_failed_recipient_and_our_message() -> None:
    mail = parse("dsn_bounce.eml")
    assert mail.bounce is not None
    assert mail.bounce.recipient == "nie.ma.takiego@example.pl"
    assert mail.bounce.status == "5.1.1"
    assert mail.bounce.permanent is True
    assert mail.bounce.original_message_id == "opiekun.1050.3@sklep-demo.pl"
    assert "User unknown" in mail.bounce.diagnostic
    assert mail.auto_submitted is True
    assert [a.content_type for a in mail.attachments] == ["message/delivery-status", "message/rfc822"]
    assert "zwrot zostal przyjety" not in mail.text  # the bounced copy is not the reply text


def test_delayed_dsn_is_not_permanent() -> None:
    mail = parse("dsn_delayed.eml")
    assert mail.bounce is not None
    assert (mail.bounce.status, mail.bounce.permanent) == ("4.4.1", False)
    assert mail.bounce.recipient == "klient@example.com"
    assert mail.bounce.original_message_id == "opiekun.1051.1@sklep-demo.pl"


def test_plain_polish_bounce_from_postmaster() -> None:
    mail = parse("bounce_plain_pl.eml")
    assert mail.bounce is not None
    assert mail.bounce.recipient == "zuzanna@example.pl"
    assert (mail.bounce.status, mail.bounce.permanent) == ("5.2.2", True)
    assert mail.bounce.original_message_id == "opiekun.1052.2@sklep-demo.pl"
    assert mail.auto_reason == "bounce"


def test_ordinary_mail_is_neither_bounce_nor_auto_reply() -> None:
    for name in ("gmail_pl_utf8.eml", "onet_iso8859_2_qp.eml", "rfc2231_filenames.eml"):
        mail = parse(name)
        assert (mail.auto_submitted, mail.auto_reason, mail.bounce) == (False, "", None)


# --- limits and robustness ---------------------------------------------------------------------------


def _nested(depth: int, links: int) -> bytes:
    head = b"From: a@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    body = b""
    for level in range(depth):
        body += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
    html = b"<p>" + b"".join(b'<a href="https://x.example/%d">l</a>' % i for i in range(links)) + b"</p>"
    body += b"Content-Type: text/html\r\n\r\n" + html + b"\r\n"
    for level in reversed(range(depth)):
        body += b"--b%d--\r\n" % level
    return head + body


def test_pathological_mail_is_cut_off_fast() -> None:
    started = time.monotonic()
    with pytest.raises(MailTooComplex):
        parse_mail(_nested(depth=200, links=5000))
    with pytest.raises(MailTooComplex):
        parse_mail(_nested(depth=MAX_DEPTH + 5, links=10))
    with pytest.raises(MailTooComplex):
        parse_mail(_nested(depth=1, links=100_000))  # thousands of links: over the HTML tag limit
    assert time.monotonic() - started < 2.0


def test_nesting_within_the_limit_still_parses() -> None:
    mail = parse_mail(_nested(depth=10, links=50))
    assert mail.html.count("<a ") == 50
    assert mail.text.strip() == "l" * 50


def test_time_limit_applies() -> None:
    with pytest.raises(MailTooComplex):
        parse_mail(load("gmail_pl_utf8.eml"), time_limit=0)


def test_too_many_parts() -> None:
    parts = b"".join(b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(600))
    raw = b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="p"\r\n\r\n' + parts + b"--p--\r\n"
    with pytest.raises(MailTooComplex):
        parse_mail(raw)


def test_a_25_mb_attachment_parses_without_blowing_memory() -> None:
    import base64

    payload = random.Random(7).randbytes(25 * 1024 * 1024)
    raw = (
        b'From: a@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--x\r\n"
        b'Content-Type: application/octet-stream; name="big.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(payload)
        + b"--x--\r\n"
    )
    tracemalloc.start()
    started = time.monotonic()
    mail = parse_mail(raw, time_limit=30)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert mail.attachments[0].content == payload
    assert peak < 260 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert elapsed < 10


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01\x02\xff" * 100])
def test_not_a_mail(raw: bytes) -> None:
    with pytest.raises(MailParseError):
        parse_mail(raw)


def test_random_damage_never_raises_anything_else() -> None:
    rng = random.Random(3)
    sources = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    for _ in range(300):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 20)):
            where = rng.randrange(len(data))
            action = rng.random()
            if action < 0.4:
                data[where] = rng.randrange(256)
            elif action < 0.7:
                del data[where : where + rng.randint(1, 50)]
            else:
                data[where:where] = rng.choice(
                    [b"\r\n", b"--", b"=?utf-8?B?", b"?=", b"<", b'"', b"\x00", b"begin 644 "]
                )
        try:
            parse_mail(bytes(data))
        except MailParseError:
            pass


def test_junk_before_the_header_is_skipped() -> None:
    mail = parse_mail(b"---- Original email message ----\r\n" + load("gmail_pl_utf8.eml"))
    assert mail.sender.email == "anna.kowalska@gmail.com"
    assert "junk before the header skipped" in mail.defects


# --- fingerprint --------------------------------------------------------------------------------------


def test_fingerprint_ignores_trace_headers_and_line_endings() -> None:
    raw = load("gmail_pl_utf8.eml")
    redelivered = (
        b"Received: from relay.example.net by mx.example.net; Mon, 3 Mar 2025 10:17:00 +0100\r\n" + raw
    )
    redelivered = redelivered.replace(
        b"Delivered-To: pomoc@sklep-demo.pl\r\n", b"Delivered-To: inny@sklep-demo.pl\r\n"
    )
    assert fingerprint(redelivered) == fingerprint(raw)
    assert fingerprint(raw.replace(b"\r\n", b"\n")) == fingerprint(raw)


def test_fingerprint_tells_apart_mails_sharing_a_message_id() -> None:
    raw = load("gmail_pl_utf8.eml")
    other = raw.replace(b"paczka nadal nie dotar", b"paczka wreszcie dotar")
    assert fingerprint(other) != fingerprint(raw)
    assert parse_mail(other).message_id == parse_mail(raw).message_id
    assert fingerprint(raw.replace(b"To: Sklep Demo", b"To: Inny Sklep")) != fingerprint(raw)


# --- fast paths: each must give exactly what the stdlib path gives --------------------------------------


def _address_samples() -> list[str]:
    rng = random.Random(5)
    words = [
        "Jan",
        "Łukasz",
        "O'Neil",
        "Иван",
        "=?utf-8?q?Zaz=C3=B3=C5=82=C4=87?=",
        "J.",
        "x@y",
        "Nowak,",
        "(c)",
    ]
    addrs = ["a@b.pl", "Jan.Nowak+x@sklep-demo.pl", ".a.@b.c", "a@b", "a@@b.c", "a b@c.de", "A@B.COM"]
    out: list[str] = []
    for _ in range(4000):
        pieces = []
        for _ in range(rng.randint(1, 3)):
            addr = rng.choice(addrs)
            name = " ".join(rng.choice(words) for _ in range(rng.randint(0, 3)))
            space = rng.choice(["", " ", "  ", "\t"])
            form = rng.randint(0, 4)
            if form == 0:
                pieces.append(f"{space}{addr}{space}")
            elif form == 1:
                pieces.append(f"{name}{space}<{addr}>")
            elif form == 2:
                pieces.append(f'"{name}"{space}<{addr}>{space}')
            elif form == 3:
                pieces.append(f"{space}<{addr}>")
            else:
                pieces.append(rng.choice(['"a\\"b" <a@b.pl>', "x <a@b.pl> (c)", "", "<>", 'a"b <a@b.pl>']))
        out.append(rng.choice([",", ", ", " ,"]).join(pieces))
    return out


def test_common_address_forms_are_read_exactly_as_getaddresses_reads_them() -> None:
    from opiekun.inboxes.drivers.email import parse

    fast = 0
    for text in _address_samples():
        simple = parse._simple_address_pairs(text)
        if simple is not None:
            fast += 1
            assert simple == parse._address_pairs_stdlib(text), text
    assert fast > 300  # the fast path is really taken


def _stdlib_tree(raw: bytes) -> list[tuple]:
    import email.feedparser

    parser = email.feedparser.FeedParser()
    parser.feed(raw.decode("ascii", "surrogateescape"))
    return _tree(parser.close())


def _tree(msg) -> list[tuple]:  # type: ignore[no-untyped-def]
    rows = []
    for part in msg.walk():
        payload = part._payload
        if isinstance(payload, bytes):
            payload = payload.decode("ascii", "surrogateescape")
        rows.append(
            (
                part.raw_items() and list(part.raw_items()),
                payload if isinstance(payload, str) else len(payload),
                [type(d).__name__ for d in part.defects],
                part.preamble,
                part.epilogue,
                part.get_unixfrom(),
            )
        )
    return rows


def _structure_samples() -> list[bytes]:
    import base64

    rng = random.Random(11)
    starts = [b"", b"-", b"--b", b"From x", b"X-A: 1", b"=20", b" ", b"\t", b":", b"\xc5\x82", b"\x0c", b"\r"]
    text = b"\n".join(
        rng.choice(starts) + bytes(rng.choice(b"abc =-:>\xc5\x82") for _ in range(rng.randint(0, 70)))
        for _ in range(150)
    )  # lines that start with anything the parser might care about
    samples = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    for nl, blob in [
        (nl, blob) for nl in (b"\r\n", b"\n") for blob in (base64.encodebytes(rng.randbytes(6000)), text)
    ]:
        body = blob.replace(b"\n", nl)
        cut = body.index(nl, 3000) + len(nl)  # a line start
        variants = [
            body,
            body[:3000] + b"\r" + body[3000:],  # a bare CR inside a line
            body[:3000] + b"\r\r" + body[3000:],  # ... two: an empty line between them
            body[:cut] + b"\r" + body[cut:],  # ... making an empty line of its own
            body[:cut] + b"\r\r" + body[cut:],
            body[:cut] + nl + body[cut:],  # an empty line inside
            body[:3000] + b"\r--b" + nl + body[3000:],  # a boundary after a bare CR
            body.rstrip(),  # the run ends the mail without a line end
            body + nl + nl,
        ]
        for variant in variants:
            head = b"From: a@b.pl" + nl + b"Subject: x" + nl
            samples.append(head + b"Content-Transfer-Encoding: base64" + nl + nl + variant)
            samples.append(
                head + b'Content-Type: multipart/mixed; boundary="b"' + nl + nl + b"--b" + nl
                + b"Content-Type: application/pdf" + nl + b"Content-Transfer-Encoding: base64" + nl + nl
                + variant + nl + b"--b" + nl + b"Content-Type: message/rfc822" + nl + nl
                + b"Subject: inner" + nl + b"Content-Transfer-Encoding: base64" + nl + nl + variant + nl
                + b"--b" + nl + b"Content-Type: message/delivery-status" + nl + nl + variant + nl
                + b"--b--" + nl + variant
            )  # fmt: skip
        fields = b"".join(b"X-Field-%d: %s%s" % (i, b"v" * 60, nl) for i in range(80))  # > _SLOT_MIN_RUN
        for kind in (b"message/rfc822", b"message/delivery-status"):
            samples.append(
                b"From: a@b.pl" + nl + b'Content-Type: multipart/mixed; boundary="b"' + nl + nl + b"--b" + nl
                + b"Content-Type: " + kind + nl + nl + fields + nl + body + nl + fields + b"--b--" + nl
            )  # fmt: skip
    for _ in range(200):  # the plain single-part shape, damaged at random
        raw = bytearray(b"From: Jan <jan@b.pl>\r\nSubject: a\r\n b\r\nX-A: 1\r\n\r\nbody\r\nmore\r\n")
        for _ in range(rng.randint(1, 4)):
            raw.insert(rng.randrange(len(raw)), rng.choice(b" \t\r\n:-Fx\x0c"))
        samples.append(bytes(raw))
    return samples


def test_fast_paths_build_the_tree_the_stdlib_parser_builds() -> None:
    from opiekun.inboxes.drivers.email import parse

    set_aside = single = 0
    for raw in _structure_samples():
        if len(raw) >= parse._SLOT_MIN_MAIL:
            set_aside += bool(parse._set_aside(raw)[1])
        single += parse._parse_single_part(raw.decode("ascii", "surrogateescape")) is not None
        assert _tree(parse._feed(raw, time.monotonic() + 60)) == _stdlib_tree(raw), raw[:300]
    assert set_aside > 5 and single > 20  # both fast paths are really taken


def test_a_long_base64_part_is_not_parsed_line_by_line() -> None:
    import base64

    payload = random.Random(2).randbytes(3 * 1024 * 1024)
    raw = (
        b'From: a@b.pl\r\nSubject: scan\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--x\r\n"
        b'Content-Type: application/pdf; name="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(payload).replace(b"\n", b"\r\n")
        + b"--x--\r\n"
    )
    best = min(_cpu(lambda: parse_mail(raw)) for _ in range(3))
    assert parse_mail(raw).attachments[0].content == payload
    assert best < 0.1, f"{best * 1000:.0f} ms CPU for a 3 MB attachment"  # line by line: ~250 ms


def _cpu(work) -> float:  # type: ignore[no-untyped-def]
    started = time.process_time()
    work()
    return time.process_time() - started


def test_report_with_empty_status_fields_takes_the_code_from_its_text() -> None:
    """Gmail's style: a delivery-status part without Status, the SMTP answer only in the text."""
    raw = (
        b"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nTo: support@sklep.test\r\n"
        b"Subject: Delivery Status Notification (Failure)\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Address not found. Your message wasn't delivered to jan@example.org.\r\n\r\n"
        b"The response was:\r\n\r\n550 5.1.1 The email account that you tried to reach does not exist.\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; googlemail.com\r\n\r\n"
        b"Final-Recipient: rfc822; jan@example.org\r\n\r\n"
        b"--R\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@sklep.test\r\nTo: jan@example.org\r\n"
        b"Subject: Re: Parcel [#12]\r\nMessage-ID: <opiekun.abc@sklep.test>\r\n\r\nYour parcel.\r\n--R--\r\n"
    )
    bounce = parse_mail(raw).bounce
    assert bounce is not None
    assert (bounce.status, bounce.permanent, bounce.recipient) == ("5.1.1", True, "jan@example.org")
    assert bounce.original_message_id == "opiekun.abc@sklep.test"


def test_every_in_reply_to_id_is_kept_for_threading() -> None:
    raw = (
        b"From: jan@example.org\r\nTo: support@sklep.test\r\nSubject: Re: x\r\n"
        b"In-Reply-To: <theirs.1@example.org> <opiekun.2@sklep.test>\r\n"
        b"References: <root@example.org>\r\n\r\nok\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.in_reply_to == "theirs.1@example.org"
    assert parsed.references == ("root@example.org", "opiekun.2@sklep.test")
