"""E-mail end to end against the running server: a customer's mail comes in through the SMTP intake,
appears live in the agent's desk, the agent answers, the answer leaves threaded, and the customer's
reply to it joins the same case — all without a reload."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.browser

MAILBOX = "pomoc@sklep-demo.localhost"  # the demo shop's mailbox (ui/management/demo_data.py)
CUSTOMER = "marta.lis@example.pl"


def send(server, mail: EmailMessage) -> None:  # type: ignore[no-untyped-def]
    with smtplib.SMTP("127.0.0.1", server.intake_port, timeout=10) as smtp:
        smtp.send_message(mail)


def test_mail_arrives_live_is_answered_threaded_and_the_reply_joins_the_case(server, new_page, login):
    agent = login(new_page(), "anna")
    agent.goto(server.url + "/?view=unassigned")
    agent.locator("#live-status[data-state=live]").wait_for()

    first = EmailMessage()
    first["From"] = f"Marta Lis <{CUSTOMER}>"
    first["To"] = MAILBOX
    first["Subject"] = "Zamówienie SD-20001 — zmiana adresu"
    first["Message-ID"] = customer_id = make_msgid(domain="example.pl")
    first.set_content(
        "Dzień dobry,\n\nczy mogę zmienić adres dostawy na ul. Lipowa 3, Kraków?\n\n"
        "-- \nMarta Lis\ntel. 600 100 200\n"
    )
    send(server, first)

    row = agent.locator("#conversation-list .conv-item", has_text="zmiana adresu")
    row.wait_for(timeout=30_000)  # live: the mail was stored and pushed to this desk, no reload
    assert agent.evaluate("performance.getEntriesByType('navigation').length") == 1
    row.click()
    thread = agent.locator("#thread")
    thread.get_by_text("czy mogę zmienić adres dostawy").wait_for()
    number = thread.get_attribute("data-number")

    agent.locator("#reply-text").fill("Dzień dobry, adres zmieniony — paczka pojedzie do Krakowa.")
    agent.keyboard.press("Control+Enter")
    thread.get_by_text("adres zmieniony").wait_for()

    out = server.wait_for_mail(
        lambda m: CUSTOMER in str(m["To"]) and "adres zmieniony" in _text(m), timeout=30
    )
    assert str(out["In-Reply-To"]).strip() == customer_id
    assert customer_id in str(out["References"])
    assert f"[#{number}]" in str(out["Subject"])
    assert out["Reply-To"].addresses[0].username.startswith(f"pomoc+c{number}-")
    assert "anna@sklep-demo.localhost" in str(out["From"])  # the handling agent's own address

    # The customer answers from their mail program, quoting us; it joins the case, live.
    answer = EmailMessage()
    answer["From"] = f"Marta Lis <{CUSTOMER}>"
    answer["To"] = out["Reply-To"].addresses[0].addr_spec
    answer["Subject"] = f"Re: {out['Subject']}"
    answer["Message-ID"] = make_msgid(domain="example.pl")
    answer["In-Reply-To"] = str(out["Message-ID"])
    answer["References"] = f"{customer_id} {out['Message-ID']}"
    answer.set_content(
        "Dziękuję bardzo!\n\nW dniu 1.12.2026 o 10:00 Anna Nowak <anna@sklep-demo.localhost> pisze:\n"
        "> Dzień dobry, adres zmieniony — paczka pojedzie do Krakowa.\n"
    )
    send(server, answer)
    thread.get_by_text("Dziękuję bardzo!").wait_for(timeout=30_000)
    assert thread.get_attribute("data-number") == number  # the same case, still open in front of her
    screenshot(agent, "desk-email-live-reply.png")


def _text(mail) -> str:  # type: ignore[no-untyped-def]
    body = mail.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""
