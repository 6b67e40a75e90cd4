"""The visitor's socket: who may connect, the message protocol, de-duplication, safety, isolation."""

import asyncio
import time
from collections import deque

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from opiekun.contacts.models import Identity
from opiekun.conversations.models import Conversation, Message
from opiekun.inboxes.drivers.livechat.driver import conversation_group
from opiekun.livechat import consumers, services
from opiekun.livechat.models import ChatSession
from opiekun.livechat.tokens import session_token
from opiekun.testing import factories
from opiekun.testing.live import next_frame
from opiekun.testing.live import quiet_frames as quiet

from .conftest import KEY, ORIGIN, hello, make_widget, signed_identity, visitor

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_page_not_on_the_widget_list_is_refused_with_4403(live, widget):
    async def scenario():
        for origin in ("https://evil.example", "https://sklep.example.evil.com", "null", ""):
            v = await visitor(origin=origin)
            assert await v.receive_output() == {
                "type": "websocket.close",
                "code": consumers.CLOSE_FORBIDDEN_ORIGIN,
            }
        assert await sync_to_async(ChatSession.objects.count)() == 0

    live(scenario)


def test_an_unknown_or_switched_off_widget_is_refused_with_4404(live, widget):
    widget.inbox.is_active = False
    widget.inbox.save()

    async def scenario():
        for key in (KEY, "nosuchwidgetkey00000"):
            v = await visitor(key=key)
            assert await v.receive_output() == {
                "type": "websocket.close",
                "code": consumers.CLOSE_UNKNOWN_WIDGET,
            }

    live(scenario)


def test_a_subdomain_on_the_wildcard_list_may_chat(live, widget):
    async def scenario():
        v = await visitor(origin="https://www.sklep.example")
        assert (await hello(v))["type"] == "welcome"
        await v.disconnect()

    live(scenario)


def test_a_message_opens_a_chat_case_and_is_acknowledged_with_its_server_id(live, widget, agent):
    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        assert welcome["type"] == "welcome" and welcome["session"] and welcome["messages"] == []
        await v.send_json_to({"type": "message", "client_id": "c-1", "text": "Gdzie jest moja paczka?"})
        ack = await next_frame(v, lambda f: f["type"] == "ack")
        assert ack["client_id"] == "c-1" and ack["duplicate"] is False
        message = await sync_to_async(Message.objects.select_related("conversation__inbox").get)(pk=ack["id"])
        assert message.text == "Gdzie jest moja paczka?" and message.channel == "livechat"
        assert message.conversation.inbox_id == widget.inbox.pk and message.meta["page_url"].endswith(
            "/koszyk"
        )
        session = await sync_to_async(ChatSession.objects.get)()
        assert session.conversation_id == message.conversation_id and session.connected == 1
        # The contact is the chat session's, anonymous.
        kinds = await sync_to_async(lambda: list(session.contact.identities.values_list("kind", flat=True)))()
        assert kinds == [Identity.Kind.CHAT]
        await v.disconnect()
        assert (await sync_to_async(ChatSession.objects.get)()).connected == 0

    live(scenario)


def test_a_resent_message_is_stored_once_and_acknowledged_with_the_same_id(live, widget):
    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        await v.send_json_to({"type": "message", "client_id": "c-1", "text": "Pierwsza"})
        first = await next_frame(v, lambda f: f["type"] == "ack")
        await v.disconnect()  # the network drops; the widget did not see the ack and sends again

        again = await visitor()
        welcome = await hello(again, session=welcome["session"], last_id=0)
        assert [m["id"] for m in welcome["messages"]] == [first["id"]]
        assert welcome["messages"][0]["client_id"] == "c-1"  # so the widget matches its pending copy
        await again.send_json_to({"type": "message", "client_id": "c-1", "text": "Pierwsza"})
        second = await next_frame(again, lambda f: f["type"] == "ack")
        assert second["id"] == first["id"] and second["duplicate"] is True
        assert await sync_to_async(Message.objects.count)() == 1
        await again.disconnect()

    live(scenario)


def test_another_tab_sees_the_line_and_the_sending_tab_only_its_ack(live, widget, monkeypatch):
    reads: list[int] = []
    load = consumers.VisitorConsumer._load_frame

    def counted(self, session, message_id):  # type: ignore[no-untyped-def]
        reads.append(message_id)
        return load(self, session, message_id)

    monkeypatch.setattr(consumers.VisitorConsumer, "_load_frame", counted)

    async def scenario():
        one = await visitor()
        welcome = await hello(one)
        await one.send_json_to({"type": "message", "client_id": "c-0", "text": "Pierwsza"})
        await next_frame(one, lambda f: f["type"] == "ack")
        two = await visitor()  # the same visitor in another tab: it joins the open chat
        await hello(two, session=welcome["session"], last_id=0)
        await quiet(two, 0.3)
        await one.send_json_to({"type": "message", "client_id": "c-1", "text": "Z pierwszej karty"})
        ack = await next_frame(one, lambda f: f["type"] == "ack")
        shown = await next_frame(two, lambda f: f["type"] == "message")
        assert shown["id"] == ack["id"] and shown["text"] == "Z pierwszej karty"
        assert [f for f in await quiet(one, 0.3) if f.get("type") == "message"] == []
        assert reads == [ack["id"]]  # read once, for the other tab; never for the tab that sent it
        await one.disconnect()
        await two.disconnect()

        # Under load the push can overtake the ack: the sending socket knows it by its own name.
        reads.clear()
        socket = consumers.VisitorConsumer()
        socket.channel_name = "specific.sender"
        socket.session = await sync_to_async(ChatSession.objects.get)()
        socket._sent = deque()
        await socket.chat_push(
            {"type": "chat.push", "message_id": ack["id"] + 1, "origin": "specific.sender"}
        )
        assert reads == []
        await socket.chat_push({"type": "chat.push", "message_id": ack["id"] + 1, "origin": "specific.other"})
        assert reads == [ack["id"] + 1]

    live(scenario)


def test_history_after_last_id_only(live, widget):
    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        ids = []
        for n in range(3):
            await v.send_json_to({"type": "message", "client_id": f"c{n}", "text": f"m{n}"})
            ids.append((await next_frame(v, lambda f: f["type"] == "ack"))["id"])
        await v.disconnect()
        again = await visitor()
        welcome = await hello(again, session=welcome["session"], last_id=ids[0])
        assert [m["id"] for m in welcome["messages"]] == ids[1:]
        await again.disconnect()

    live(scenario)


def test_a_forged_or_foreign_session_token_starts_a_new_empty_session(live, shop, widget):
    other = make_widget(shop, name="Second site", public_key="secondwidgetkey012345")

    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Mój adres to Długa 5"})
        await next_frame(v, lambda f: f["type"] == "ack")
        session = await sync_to_async(ChatSession.objects.get)()
        await v.disconnect()
        forged = welcome["session"][:-3] + ("aaa" if not welcome["session"].endswith("aaa") else "bbb")
        foreign = await sync_to_async(session_token)(key=session.key, inbox_id=other.inbox.pk)
        for token in (forged, foreign, "garbage", {"k": session.key}):
            again = await visitor()
            w = await hello(again, session=token)
            assert w["type"] == "welcome" and w["messages"] == []
            assert w["session"] != welcome["session"]
            await again.disconnect()

    live(scenario)


def test_one_visitor_never_sees_another_visitors_chat(live, widget):
    async def scenario():
        anna = await visitor()
        await hello(anna)
        await anna.send_json_to({"type": "message", "client_id": "a1", "text": "Sekret Anny"})
        secret = await next_frame(anna, lambda f: f["type"] == "ack")
        bob = await visitor()
        await hello(bob)
        await bob.send_json_to({"type": "message", "client_id": "b1", "text": "Pytanie Bartka"})
        await next_frame(bob, lambda f: f["type"] == "ack")
        anna_session = await sync_to_async(ChatSession.objects.get)(conversation__messages__pk=secret["id"])
        # A push naming Anna's message reaches Bob's socket (as if a group were wrong): he sees nothing.
        await bob.send_json_to({"type": "delivered", "up_to": secret["id"]})
        layer = get_channel_layer()
        bob_session = await sync_to_async(ChatSession.objects.exclude(pk=anna_session.pk).get)()
        assert bob_session.conversation_id != anna_session.conversation_id
        # Bob asking for Anna's group by case number is impossible: the socket joins only its own.
        await layer.group_send(
            conversation_group(KEY, (await sync_to_async(lambda: bob_session.conversation.number)())),
            {"type": "chat.push", "message_id": secret["id"]},
        )
        frames = await quiet(bob)
        assert not any(f.get("type") == "message" and f.get("id") == secret["id"] for f in frames)
        assert not any("Sekret" in str(f) for f in frames)
        # Reusing the client id Anna used cannot fetch or overwrite her message either.
        await bob.send_json_to({"type": "message", "client_id": "a1", "text": "x"})
        ack = await next_frame(bob, lambda f: f["type"] == "ack")
        assert ack["id"] != secret["id"] and ack["duplicate"] is False
        await anna.disconnect()
        await bob.disconnect()

    live(scenario)


def test_malformed_frames_get_error_frames_and_the_socket_keeps_working(live, widget):
    async def scenario():
        v = await visitor()
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "before hello"})
        assert (await next_frame(v))["code"] == "hello_first"
        await hello(v)
        for raw, code in (
            ("{not json", "bad_json"),
            ("[1,2]", "bad_frame"),
            ('{"type": 5}', "bad_frame"),
            ('{"type": "launch_missiles"}', "unknown_type"),
            ("x" * (consumers.MAX_FRAME + 1), "too_large"),
            ('{"type": "message", "client_id": "", "text": "a"}', "bad_client_id"),
            ('{"type": "message", "client_id": "c", "text": 5}', "bad_frame"),
            ('{"type": "message", "client_id": "c", "text": "   "}', "invalid"),
        ):
            await v.send_to(text_data=raw)
            frame = await next_frame(v, lambda f: f["type"] == "error")
            assert frame["code"] == code, raw
        await v.send_to(bytes_data=b"\x00\x01")
        assert (await next_frame(v))["code"] == "bad_frame"
        await v.send_json_to({"type": "message", "client_id": "ok", "text": "Still here"})
        assert (await next_frame(v, lambda f: f["type"] == "ack"))["client_id"] == "ok"
        assert await sync_to_async(Message.objects.count)() == 1
        await v.disconnect()

    live(scenario)


def test_an_oversized_message_is_refused_and_not_stored(live, widget):
    async def scenario():
        v = await visitor()
        await hello(v)
        await v.send_json_to({"type": "message", "client_id": "big", "text": "a" * (services.MAX_TEXT + 1)})
        error = await next_frame(v, lambda f: f["type"] == "error")
        assert error == {"type": "error", "code": "too_long", "client_id": "big", "limit": services.MAX_TEXT}
        assert await sync_to_async(Message.objects.count)() == 0
        await v.disconnect()

    live(scenario)


def test_a_visitor_over_the_message_limit_is_told_to_wait(live, widget, monkeypatch):
    monkeypatch.setattr(services, "MESSAGE_LIMIT", (3, 60))

    async def scenario():
        v = await visitor()
        await hello(v)
        for n in range(3):
            await v.send_json_to({"type": "message", "client_id": f"c{n}", "text": f"m{n}"})
            await next_frame(v, lambda f: f["type"] == "ack")
        await v.send_json_to({"type": "message", "client_id": "c3", "text": "one too many"})
        error = await next_frame(v, lambda f: f["type"] == "error")
        assert error["code"] == "rate_limited" and error["client_id"] == "c3" and error["retry_after"] > 0
        assert await sync_to_async(Message.objects.count)() == 3
        # Another visitor is not affected.
        other = await visitor()
        await hello(other)
        await other.send_json_to({"type": "message", "client_id": "x", "text": "hello"})
        assert (await next_frame(other, lambda f: f["type"] in ("ack", "error")))["type"] == "ack"
        await v.disconnect()
        await other.disconnect()

    live(scenario)


def test_a_flood_of_frames_closes_that_socket_with_a_policy_code_only(live, widget, monkeypatch):
    monkeypatch.setattr(consumers, "FRAMES_PER_WINDOW", (5, 60))

    async def scenario():
        calm = await visitor()
        await hello(calm)
        flood = await visitor()
        await hello(flood)
        for _ in range(5 * consumers.FLOOD_CLOSE + 1):
            await flood.send_json_to({"type": "ping"})
        closed = None
        for _ in range(100):
            message = await flood.receive_output(timeout=2)
            if message["type"] == "websocket.close":
                closed = message
                break
        assert closed == {"type": "websocket.close", "code": consumers.CLOSE_POLICY}
        await calm.send_json_to({"type": "ping"})
        assert (await next_frame(calm))["type"] == "pong"
        await calm.disconnect()

    live(scenario)


def test_a_slow_visitor_socket_is_closed_instead_of_hoarding_frames(live, widget, monkeypatch):
    monkeypatch.setattr(consumers.VisitorConsumer, "outbox_limit", 3)

    async def scenario():
        v = await visitor()
        await hello(v)
        consumer_send = consumers.VisitorConsumer.send

        async def stuck(self, *args, **kwargs):  # a client whose TCP window never opens
            await asyncio.sleep(3600)

        consumers.VisitorConsumer.send = stuck
        try:
            for n in range(10):  # each earns a distinct ack (equal frames would collapse in the outbox)
                await v.send_json_to({"type": "message", "client_id": f"c{n}", "text": f"m{n}"})
            message = None
            for _ in range(20):
                message = await v.receive_output(timeout=2)
                if message["type"] == "websocket.close":
                    break
            assert message == {"type": "websocket.close", "code": 1013}  # "try again later"
        finally:
            consumers.VisitorConsumer.send = consumer_send

    live(scenario)


def test_a_valid_identity_token_lands_the_chat_on_the_shops_customer(live, shop, widget):
    customer = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.com")

    async def scenario():
        v = await visitor()
        w = await hello(
            v, identity=signed_identity("jan@example.com", "Jan Kowalski", int(time.time()) + 600)
        )
        assert w["identified"] is True
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Zamówienie 123?"})
        ack = await next_frame(v, lambda f: f["type"] == "ack")
        conversation = await sync_to_async(Conversation.objects.get)(messages__pk=ack["id"])
        assert conversation.contact_id == customer.pk
        await v.disconnect()

    live(scenario)


def test_a_tampered_or_expired_identity_token_is_ignored(live, shop, widget):
    customer = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.com")
    now = int(time.time())
    tampered = {**signed_identity("ewa@example.com", "Ewa", now + 600), "email": "jan@example.com"}
    expired = signed_identity("jan@example.com", "Jan Kowalski", now - 5)
    wrong_secret = signed_identity("jan@example.com", "Jan Kowalski", now + 600, secret="guess")

    async def scenario():
        for n, token in enumerate((tampered, expired, wrong_secret, "jan@example.com")):
            v = await visitor()
            w = await hello(v, identity=token)
            assert w["identified"] is False
            await v.send_json_to({"type": "message", "client_id": f"c{n}", "text": "Moje zamówienia?"})
            ack = await next_frame(v, lambda f: f["type"] == "ack")
            conversation = await sync_to_async(Conversation.objects.get)(messages__pk=ack["id"])
            assert conversation.contact_id != customer.pk
            await v.disconnect()

    live(scenario)


def test_a_typed_prechat_address_is_not_trusted_as_identity(live, shop, widget):
    customer = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.com")

    async def scenario():
        v = await visitor()
        await hello(v)
        await v.send_json_to({"type": "prechat", "name": "Ktoś", "email": "jan@example.com"})
        assert (await next_frame(v))["type"] == "prechat_ok"
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Pokaż moje zamówienia"})
        ack = await next_frame(v, lambda f: f["type"] == "ack")
        conversation = await sync_to_async(Conversation.objects.select_related("contact").get)(
            messages__pk=ack["id"]
        )
        assert conversation.contact_id != customer.pk
        # Jan's address stays Jan's only.
        owners = await sync_to_async(
            lambda: list(
                Identity.objects.filter(value="jan@example.com").values_list("contact_id", flat=True)
            )
        )()
        assert owners == [customer.pk]
        await v.disconnect()

    live(scenario)


def test_a_new_visitors_typed_address_is_kept_on_their_new_contact(live, shop, widget):
    async def scenario():
        v = await visitor()
        await hello(v)
        await v.send_json_to({"type": "prechat", "name": "Ola Nowa", "email": "Ola@Example.com"})
        await next_frame(v, lambda f: f["type"] == "prechat_ok")
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Dzień dobry"})
        ack = await next_frame(v, lambda f: f["type"] == "ack")
        conversation = await sync_to_async(Conversation.objects.select_related("contact").get)(
            messages__pk=ack["id"]
        )
        assert conversation.contact.name == "Ola Nowa"
        emails = await sync_to_async(
            lambda: list(conversation.contact.identities.filter(kind="email").values_list("value", flat=True))
        )()
        assert emails == ["ola@example.com"]
        await v.disconnect()

    live(scenario)


def test_prechat_required_fields(live, shop):
    make_widget(shop, prechat_enabled=True, prechat_fields=["name", "email"], prechat_required=["email"])

    async def scenario():
        v = await visitor()
        await hello(v)
        await v.send_json_to({"type": "prechat", "name": "Ola"})
        error = await next_frame(v)
        assert error["type"] == "error" and error["field"] == "email"
        await v.send_json_to({"type": "prechat", "name": "Ola", "email": "not-an-address"})
        assert (await next_frame(v))["field"] == "email"
        await v.disconnect()

    live(scenario)


def test_page_changes_and_the_session_show_on_the_desk(live, widget):
    async def scenario():
        v = await visitor()
        await hello(v)
        await v.send_json_to({"type": "page", "url": f"{ORIGIN}/produkt/7", "title": "Buty"})
        await v.send_json_to({"type": "ping"})
        await next_frame(v, lambda f: f["type"] == "pong")
        session = await sync_to_async(ChatSession.objects.get)()
        assert (session.page_url, session.page_title) == (f"{ORIGIN}/produkt/7", "Buty")
        assert session.user_agent == "" and session.language == "pl"
        await v.disconnect()

    live(scenario)


def test_signing_in_at_the_shop_folds_the_anonymous_chat_into_the_customer(live, shop, widget):
    customer = factories.ContactFactory(shop=shop, name="Jan Kowalski", email="jan@example.com")

    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Zanim się zaloguję…"})
        ack = await next_frame(v, lambda f: f["type"] == "ack")
        await v.disconnect()
        # The visitor logs in at the shop; the next page carries the signed identity.
        again = await visitor()
        identity = signed_identity("jan@example.com", "Jan Kowalski", int(time.time()) + 600)
        w = await hello(again, session=welcome["session"], identity=identity)
        assert w["identified"] is True and [m["id"] for m in w["messages"]] == [ack["id"]]
        await again.send_json_to({"type": "message", "client_id": "c2", "text": "…już jestem zalogowany"})
        second = await next_frame(again, lambda f: f["type"] == "ack")
        conversation = await sync_to_async(Conversation.objects.get)(messages__pk=second["id"])
        assert conversation.contact_id == customer.pk
        assert await sync_to_async(
            Conversation.objects.filter(messages__pk=ack["id"], contact=customer).exists
        )()
        await again.disconnect()

    live(scenario)


def test_ending_the_chat_starts_afresh_next_time(live, widget):
    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Dziękuję, to wszystko"})
        await next_frame(v, lambda f: f["type"] == "ack")
        await v.send_json_to({"type": "end"})
        assert (await next_frame(v))["type"] == "ended"
        await v.disconnect()
        again = await visitor()
        w = await hello(again, session=welcome["session"])
        assert w["messages"] == [] and w["session"] != welcome["session"]
        await again.disconnect()

    live(scenario)


def test_the_transcript_is_requested_over_the_socket(live, widget, monkeypatch):
    sent = []
    monkeypatch.setattr("opiekun.livechat.transcripts.transcript_send", lambda **kw: sent.append(kw) or True)

    async def scenario():
        v = await visitor()
        await hello(v)
        await v.send_json_to({"type": "transcript", "email": "ola@example.com"})
        error = await next_frame(v)
        assert error["type"] == "error" and error["field"] == "email"  # nothing to send yet
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Pytanie"})
        await next_frame(v, lambda f: f["type"] == "ack")
        await v.send_json_to({"type": "transcript", "email": "not an address"})
        assert (await next_frame(v))["field"] == "email"
        await v.send_json_to({"type": "transcript", "email": "Ola@Example.com"})
        assert await next_frame(v) == {"type": "transcript_ok", "email": "ola@example.com"}
        await v.disconnect()

    live(scenario)
    assert [kw["email"] for kw in sent] == ["ola@example.com"]
