"""split_reply / is_reply_header on replies written the way pl/ru/uk/en clients and webmails write them."""

# ruff: noqa: RUF001 -- Cyrillic and Polish letters in patterns and samples are the point

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from opiekun.inboxes.drivers.email.parse import html_to_text, parse_mail
from opiekun.inboxes.drivers.email.reply import is_reply_header, split_reply

FIXTURES = Path(__file__).parent / "fixtures"

QUOTE = "> Dzień dobry,\n> Pani zamówienie zostało wysłane.\n>\n> Sklep Demo\n"


@pytest.mark.parametrize(
    "header",
    [
        # Gmail pl/ru/uk/en
        "pon., 3 mar 2025 o 09:02 Sklep Demo <pomoc@sklep-demo.pl> napisał(a):",
        "пн, 3 мар. 2025 г. в 09:02, Sklep Demo <pomoc@sklep-demo.pl>:",
        "пн, 3 бер. 2025 р. о 09:02 Sklep Demo <pomoc@sklep-demo.pl> пише:",
        "On Mon, Mar 3, 2025 at 9:02 AM Sklep Demo <pomoc@sklep-demo.pl> wrote:",
        # Apple Mail
        "On 3 Mar 2025, at 09:02, Sklep Demo <pomoc@sklep-demo.pl> wrote:",
        "Wiadomość napisana przez Sklep Demo <pomoc@sklep-demo.pl> w dniu 03.03.2025, o godz. 09:02:",
        # Thunderbird
        "W dniu 03.03.2025 o 09:02, Sklep Demo pisze:",
        "03.03.2025 09:02, Sklep Demo пишет:",
        "On 03/03/2025 09:02, Sklep Demo wrote:",
        # Onet / WP / Interia
        "Dnia 3 marca 2025 09:02 Sklep Demo <pomoc@sklep-demo.pl> napisał(a):",
        "W dniu 3 marca 2025 09:02 użytkownik Sklep Demo <pomoc@sklep-demo.pl> napisał:",
        "Użytkownik Sklep Demo <pomoc@sklep-demo.pl> napisał:",
        # mail.ru / Yandex
        "Понедельник, 3 марта 2025, 9:02 +03:00 от Sklep Demo <pomoc@sklep-demo.pl>:",
        '03.03.2025, 09:02, "Sklep Demo" <pomoc@sklep-demo.pl>:',
        "Sklep Demo написал(а):",
        # separators
        "-----Original Message-----",
        "--- Oryginalna wiadomość ---",
        "-------- Пересылаемое сообщение --------",
        "---------- Forwarded message ---------",
        # Outlook blocks, flattened or with their line breaks
        "From: Sklep Demo Sent: Monday, March 3, 2025 9:02 AM To: Anna Subject: Re: Zamówienie",
        "Od: Sklep Demo <pomoc@sklep-demo.pl>\nWysłano: poniedziałek, 3 marca 2025 09:02\nDo: Anna",
        "От: Sklep Demo <pomoc@sklep-demo.pl>\nОтправлено: 3 марта 2025 г. 9:02\nКому: Ольга",
    ],
)
def test_reply_headers_are_recognised_and_cut(header: str) -> None:
    assert is_reply_header(header)
    split = split_reply(f"Dziękuję, wszystko jasne.\n\n{header}\n\n{QUOTE}")
    assert split.reply == "Dziękuję, wszystko jasne."
    assert header.split("\n")[0] in split.quoted


@pytest.mark.parametrize(
    "line",
    [
        "Dzień dobry, zamówienie nr 123 nie dotarło.",
        "On Monday I will be at home, please deliver then.",
        "Kod: 1234",
        "Napisałem wczoraj, że paczka jest uszkodzona.",
        "Pozdrawiam",
        "https://example.com/wrote:",
        "Od: jutra jestem dostępna",
    ],
)
def test_ordinary_lines_are_not_reply_headers(line: str) -> None:
    assert not is_reply_header(line)


def test_top_posted_gmail_reply_from_a_fixture() -> None:
    mail = parse_mail((FIXTURES / "gmail_pl_utf8.eml").read_bytes())
    split = split_reply(mail.text)
    assert split.reply.startswith("Dzień dobry,\n\npaczka nadal nie dotarła.")
    assert split.reply.endswith(
        "Pozdrawiam\nAnna Kowalska"
    )  # a sign-off stays: it is not a clear signature block
    assert split.quoted.startswith("pon., 3 mar 2025 o 09:02 Sklep Demo")
    assert "Pani zamówienie zostało wysłane" in split.quoted


def test_onet_iso8859_2_reply() -> None:
    mail = parse_mail((FIXTURES / "onet_iso8859_2_qp.eml").read_bytes())
    assert split_reply(mail.text).reply == (
        "Witam,\n\nczy mogę zwrócić buty kupione w zeszłym tygodniu? Rozmiar jest za mały."
    )


def test_bottom_posted_wp_reply_with_signature() -> None:
    mail = parse_mail((FIXTURES / "wp_windows1250_bottom.eml").read_bytes())
    split = split_reply(mail.text)
    assert split.reply == "Numer zamówienia to 5533. Płaciłem BLIKiem."
    assert split.quoted.startswith("W dniu 1.03.2025 o 12:00, Sklep Demo pisze:")
    assert split.signature == "--\nWysłane z aplikacji Poczta WP"


def test_outlook_russian_block() -> None:
    mail = parse_mail((FIXTURES / "outlook_ru_windows1251.eml").read_bytes())
    split = split_reply(mail.text)
    assert (
        split.reply == "Добрый день!\n\nЗаказ пришёл повреждённым, прошу оформить возврат."
        "\n\nС уважением,\nОльга Смирнова"
    )
    assert split.quoted.startswith("От: Sklep Demo")


def test_outlook_polish_html_block() -> None:
    mail = parse_mail((FIXTURES / "outlook_pl_html_only.eml").read_bytes())
    split = split_reply(mail.text)
    assert split.reply == "Dziękuję, termin pasuje.\n\nEwa"
    assert "Proponujemy dostawę w czwartek." in split.quoted


def test_mailru_koi8r_reply() -> None:
    mail = parse_mail((FIXTURES / "mailru_koi8r.eml").read_bytes())
    assert split_reply(mail.text).reply == "Спасибо, всё получила."


def test_gmail_html_quote_becomes_quoted_text() -> None:
    mail = parse_mail((FIXTURES / "gmail_html_alternative.eml").read_bytes())
    text = html_to_text(mail.html)
    assert "> Kod RABAT10 jest ważny do końca marca." in text
    assert split_reply(text).reply == "Kod nie działa przy płatności kartą."
    assert split_reply(mail.text).reply == "Kod nie działa przy płatności kartą."


def test_yandex_bottom_posted() -> None:
    text = (
        '03.03.2025, 09:02, "Sklep Demo" <pomoc@sklep-demo.pl>:\n'
        "> Здравствуйте! Укажите, пожалуйста, номер заказа.\n"
        ">\n\n"
        "Номер заказа 5590.\n\n"
        "-- \nС уважением, Алексей\n"
    )
    split = split_reply(text)
    assert split.reply == "Номер заказа 5590."
    assert split.signature == "-- \nС уважением, Алексей"
    assert "Укажите, пожалуйста" in split.quoted


def test_thunderbird_bottom_posted_ukrainian() -> None:
    text = (
        "03.03.2025 09:02, Sklep Demo пише:\n> Доброго дня! Ваше замовлення відправлено.\n\n"
        "Дякую, отримала.\n"
    )
    assert split_reply(text).reply == "Дякую, отримала."


def test_interleaved_answers_keep_the_quoted_questions() -> None:
    text = (
        "W dniu 03.03.2025 o 09:02, Sklep Demo pisze:\n"
        "> Jaki jest numer zamówienia?\n\n"
        "5590\n\n"
        "> Czy paczka była uszkodzona?\n\n"
        "Tak, karton był zgnieciony.\n"
    )
    reply = split_reply(text).reply
    assert "5590" in reply and "> Czy paczka była uszkodzona?" in reply and "karton był zgnieciony" in reply


@pytest.mark.parametrize(
    "signature",
    ["Sent from my iPhone", "Wysłane z iPhone'a", "Отправлено с iPhone", "Wysłane z mojego smartfona Samsung",
     "Отправлено из мобильной Почты Mail.ru", "Get Outlook for Android"],
)  # fmt: skip
def test_mobile_signatures_are_cut(signature: str) -> None:
    split = split_reply(f"Proszę o fakturę.\n\n{signature}\n")
    assert split.reply == "Proszę o fakturę."
    assert split.signature == signature


def test_sentences_that_only_look_like_signatures_stay() -> None:
    text = "Sent from my desk, it is easier than from my mobile phone.\n\nPozdrawiam serdecznie,\nAnna"
    assert split_reply(text).reply == text


def test_dash_dash_signature_block() -> None:
    split = split_reply("Proszę o zwrot.\n\n-- \nJan Nowak\ntel. 600 100 200\n")
    assert (split.reply, split.signature) == ("Proszę o zwrot.", "-- \nJan Nowak\ntel. 600 100 200")


def test_only_quote_keeps_the_text_and_empty_input() -> None:
    assert split_reply("> tylko cytat\n").reply == "> tylko cytat"
    assert split_reply("  \n\n").reply == ""


def test_crlf_and_speed_on_a_hostile_body() -> None:
    assert split_reply("Tak.\r\n\r\nOn Mon, 3 Mar 2025, X <x@example.com> wrote:\r\n> a\r\n").reply == "Tak."
    hostile = ("On " + "a " * 5000 + "\n") * 200 + ">" * 10000 + "\n" + "-" * 10000
    started = time.monotonic()
    split_reply(hostile)
    assert time.monotonic() - started < 1.0


def _tail_samples() -> list[str]:
    """Line ends around every 'wrote' verb, in both cases, plus seeded random junk of the same letters."""
    import random

    from opiekun.inboxes.drivers.email import reply

    verbs = [v.replace("\\(", "(").replace("\\)", ")") for v in reply._WROTE_VERBS.split("|")]
    befores = ["", " ", ",", ">", '"', ")", "]", "x", "Jan Nowak ", "<a@b.pl> ", "\n", "\t", "-", "(a)"]
    afters = ["", ":", " :", "：", ": -", "--", " - ", "::", ":- -", "\n", " x", ":\n", "-:", " >", ">"]
    samples = [b + v + a for v in verbs for b in befores for a in afters]
    samples += [s.upper() for s in samples[::7]]
    letters = "wrote:- >\n\t,)]\"'(a)@.x1ąłпишетnapisał" + "".join(verbs)
    rng = random.Random(3)
    samples += ["".join(rng.choice(letters) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    for path in sorted(FIXTURES.glob("*.eml")):
        samples += path.read_text("latin-1").splitlines()
    return samples


def test_reversed_tail_patterns_agree_with_the_plain_ones() -> None:
    # The splitter matches 'ends with a wrote verb' backwards for speed; it must decide exactly as the
    # readable forward patterns do.
    from opiekun.inboxes.drivers.email import reply

    for sample in _tail_samples():
        assert reply._wrote_end(sample) == bool(reply._WROTE_END.search(sample)), sample
        assert reply._maybe_header_end(sample) == bool(reply._MAYBE_HEADER_END.search(sample)), sample
        email_end = sample + " Jan <jan.nowak@sklep-demo.pl>" + sample[-3:]
        for text in (sample, email_end, email_end + ":", email_end + " > : \t"):
            forward = bool(reply._DATE_EMAIL_COLON.search(text))
            assert bool(reply._DATE_EMAIL_COLON_REVERSED.match(text[::-1])) == forward, text


def test_linear_class_string_decisions_agree_with_their_regexes() -> None:
    # split_reply decides with linear functions; the regexes next to them are the specification.
    import itertools

    from opiekun.inboxes.drivers.email import reply as r

    def start(match) -> int:  # type: ignore[no-untyped-def]
        return match.start() if match else -1

    rng = random.Random(7)
    strings = ["".join(t) for n in range(7) for t in itertools.product("tebqhds", repeat=n)]
    strings += ["".join(rng.choice("tebqh") for _ in range(rng.randint(7, 40))) for _ in range(3000)]
    for p in strings:
        assert r._bottom_posted(p) == bool(r._BOTTOM_POSTED.fullmatch(p)), p
        assert r._trailing_text(p) == start(r._TRAILING_TEXT.search(p)), p
        assert r._attribution_without_quote(p) == start(r._ATTRIBUTION_WITHOUT_QUOTE.search(p)), p
        long_quote = r._ATTRIBUTION_LONG_QUOTE.search(p)
        assert r._attribution_long_quote(p) == (
            (long_quote.start(), long_quote.group(1)) if long_quote else None
        ), p
        assert r._text_then_history(p) == start(r._TEXT_THEN_HISTORY.search(p)), p
        block = r._WRAPPED_HEADER_BLOCK.search(p)
        assert r._wrapped_header_block(p) == ((block.start(), block.end()) if block else None), p
        assert r._trailing_quotes(p) == start(r._TRAILING_QUOTES.search(p)), p


@pytest.mark.parametrize(
    "body",
    [
        "On Mon, 1 Jan 2024 a@b.c wrote:\n\n" * 40
        + "x\nOn Mon, 1 Jan 2024 a@b.c wrote:\n",  # was exponential
        "From: a\n" * 3000 + "x\n",  # was cubic
        "> q\n" * 20000 + "text\n",  # was quadratic
        "Text\n" + "\n" * 20000 + "Hi\nOn Mon, 1 Jan 2024 a@b.c wrote:\n" + "\n" * 5000 + "tb\n",
    ],
)
def test_long_hostile_class_strings_split_in_linear_time(body: str) -> None:
    started = time.process_time()
    split_reply(body)
    assert time.process_time() - started < 1.0
