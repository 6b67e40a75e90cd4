"""The agent's side of a chat: replies reach the visitor's socket, typing and read receipts both ways,
rings on the desk, the routing of a new chat and the maximum of chats per agent."""

import pytest
from asgiref.sync import sync_to_async

from opiekun.contacts.models import Contact
from opiekun.conversations.attachments import CheckedFile
from opiekun.conversations.models import Conversation, Message
from opiekun.conversations.services import message_send, note_add
from opiekun.livechat import services
from opiekun.livechat.models import AgentPresence, ChatSession
from opiekun.testing import factories
from opiekun.testing.live import next_frame
from opiekun.testing.live import quiet_frames as quiet

from .conftest import agent_socket, hello, make_widget, visitor

pytestmark = pytest.mark.django_db(transaction=True)


async def start_chat(text="Dzień dobry, mam pytanie"):
    v = await visitor()
    welcome = await hello(v)
    await v.send_json_to({"type": "message", "client_id": "first", "text": text})
    ack = await next_frame(v, lambda f: f["type"] == "ack")
    conversation = await sync_to_async(Conversation.objects.select_related("contact", "shop", "inbox").get)(
        messages__pk=ack["id"]
    )
    return v, welcome, ack, conversation


def test_an_agents_reply_reaches_the_visitor_and_is_delivered_then_read(live, widget, agent):
    async def scenario():
        v, _welcome, _ack, conversation = await start_chat()
        reply = await sync_to_async(message_send)(
            conversation=conversation, agent=agent, text="Już sprawdzam!"
        )
        frame = await next_frame(v, lambda f: f["type"] == "message" and f["from"] == "agent")
        assert frame["id"] == reply.pk and frame["text"] == "Już sprawdzam!" and frame["author"] == "Anna"
        stored = await sync_to_async(Message.objects.get)(pk=reply.pk)
        assert stored.delivery_status == Message.Delivery.SENT and stored.channel == "livechat"
        await v.send_json_to({"type": "delivered", "up_to": reply.pk})
        await v.send_json_to({"type": "ping"})
        await next_frame(v, lambda f: f["type"] == "pong")
        stored = await sync_to_async(Message.objects.get)(pk=reply.pk)
        assert stored.delivery_status == Message.Delivery.DELIVERED
        await v.send_json_to({"type": "read", "up_to": reply.pk})
        await v.send_json_to({"type": "ping"})
        await next_frame(v, lambda f: f["type"] == "pong")
        session = await sync_to_async(ChatSession.objects.get)()
        assert session.visitor_read_up_to == reply.pk
        await v.disconnect()

    live(scenario)


def test_a_reply_with_a_file_reaches_the_visitor_with_its_link(live, widget, agent):
    async def scenario():
        v, _welcome, _ack, conversation = await start_chat()
        reply = await sync_to_async(message_send)(
            conversation=conversation,
            agent=agent,
            text="Faktura w załączniku",
            files=[CheckedFile("faktura.pdf", b"%PDF-1.4 faktura", "application/pdf")],
        )
        frame = await next_frame(v, lambda f: f["type"] == "message" and f["from"] == "agent")
        assert frame["id"] == reply.pk and frame["text"] == "Faktura w załączniku"
        assert [(f["name"], f["type"]) for f in frame["files"]] == [("faktura.pdf", "application/pdf")]
        assert frame["files"][0]["url"].startswith("/")
        await v.disconnect()

    live(scenario)


def test_an_internal_note_never_reaches_the_visitor(live, widget, agent):
    async def scenario():
        v, _w, _a, conversation = await start_chat()
        note = await sync_to_async(note_add)(conversation=conversation, agent=agent, text="Klient marudzi")
        # Even pushed at the visitor's group by mistake, a note is not shown.
        from channels.layers import get_channel_layer

        from opiekun.inboxes.drivers.livechat.driver import conversation_group

        await get_channel_layer().group_send(
            conversation_group(widget.config.public_key, conversation.number),
            {"type": "chat.push", "message_id": note.pk},
        )
        frames = await quiet(v)
        assert not any("marudzi" in str(f) for f in frames)
        # …nor in the history on reconnect.
        await v.disconnect()
        again = await visitor()
        w = await hello(again, session=_w["session"])
        assert [m["text"] for m in w["messages"]] == ["Dzień dobry, mam pytanie"]
        await again.disconnect()

    live(scenario)


def test_a_reply_while_the_visitor_is_away_arrives_on_reconnect(live, widget, agent):
    async def scenario():
        v, welcome, ack, conversation = await start_chat()
        await v.disconnect()
        reply = await sync_to_async(message_send)(
            conversation=conversation, agent=agent, text="Paczka jest w drodze"
        )
        again = await visitor()
        w = await hello(again, session=welcome["session"], last_id=ack["id"])
        assert [m["id"] for m in w["messages"]] == [reply.pk]
        await again.disconnect()

    live(scenario)


def test_typing_and_read_receipts_both_ways(live, widget, agent):
    async def scenario():
        desk = await agent_socket(agent.user)
        await next_frame(desk, lambda f: f["type"] == "waiting")
        v, _w, ack, conversation = await start_chat()
        ring = await next_frame(desk, lambda f: f["type"] == "ring")
        assert ring["conversation_id"] == conversation.pk and ring["new_chat"] is True
        waiting = await next_frame(desk, lambda f: f["type"] == "waiting" and f["count"] == 1)
        assert waiting["chats"][0]["number"] == conversation.number

        await v.send_json_to({"type": "typing", "on": True})
        typing = await next_frame(desk, lambda f: f["type"] == "visitor_typing")
        assert typing == {"type": "visitor_typing", "conversation_id": conversation.pk, "on": True}

        await desk.send_json_to({"type": "typing", "conversation_id": conversation.pk, "on": True})
        assert await next_frame(v, lambda f: f["type"] == "typing") == {
            "type": "typing",
            "on": True,
            "name": "Anna",
        }

        await desk.send_json_to({"type": "read", "conversation_id": conversation.pk, "up_to": ack["id"]})
        assert await next_frame(v, lambda f: f["type"] == "read") == {"type": "read", "up_to": ack["id"]}

        await desk.send_json_to({"type": "watch", "conversation_id": conversation.pk})
        state = await next_frame(desk, lambda f: f["type"] == "visitor" and f["online"])
        assert state["page_url"].endswith("/koszyk")
        await v.disconnect()
        gone = await next_frame(desk, lambda f: f["type"] == "visitor" and not f["online"])
        assert gone["conversation_id"] == conversation.pk
        await desk.disconnect()

    live(scenario)


def test_an_agent_of_another_shop_cannot_type_into_or_read_a_chat(live, widget, other_shop):
    stranger = factories.AgentFactory(shop=other_shop, display_name="Obcy")

    async def scenario():
        v, _w, ack, conversation = await start_chat()
        desk = await agent_socket(stranger.user)
        await desk.send_json_to({"type": "typing", "conversation_id": conversation.pk, "on": True})
        await desk.send_json_to({"type": "read", "conversation_id": conversation.pk, "up_to": ack["id"]})
        await desk.send_json_to({"type": "watch", "conversation_id": conversation.pk})
        assert not [f for f in await quiet(v) if f["type"] in ("typing", "read")]
        assert not [f for f in await quiet(desk, 0.3) if f["type"] == "visitor"]
        assert (await sync_to_async(ChatSession.objects.get)()).agent_read_up_to == 0
        await v.disconnect()
        await desk.disconnect()

    live(scenario)


def test_the_desk_chat_socket_needs_a_signed_in_agent(live):
    from channels.testing.websocket import WebsocketCommunicator
    from django.contrib.auth.models import AnonymousUser

    from opiekun.livechat.consumers import CLOSE_UNAUTHENTICATED, AgentChatConsumer

    async def scenario():
        for user in (AnonymousUser(), await sync_to_async(factories.UserFactory)(username="not-an-agent")):
            c = WebsocketCommunicator(AgentChatConsumer.as_asgi(), "/ws/desk/chat/")
            c.scope["user"] = user
            await c.connect()
            assert await c.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}

    live(scenario)


def test_rings_go_to_the_assignee_or_the_team(live, shop, widget, agent):
    team = factories.TeamFactory(shop=shop, name="Czat")
    widget.inbox.team = team
    widget.inbox.save()
    member = factories.AgentFactory(shop=shop, display_name="Piotr W")
    team.members.add(member)
    outsider = factories.AgentFactory(shop=shop, display_name="Olga I")
    other_team = factories.TeamFactory(shop=shop, name="Magazyn")
    other_team.members.add(outsider)

    async def scenario():
        member_desk = await agent_socket(member.user)
        outsider_desk = await agent_socket(outsider.user)
        v, _w, _a, conversation = await start_chat()
        assert (await next_frame(member_desk, lambda f: f["type"] == "ring"))["number"] == conversation.number
        assert not [f for f in await quiet(outsider_desk) if f["type"] == "ring"]
        await v.disconnect()
        await member_desk.disconnect()
        await outsider_desk.disconnect()

    live(scenario)


def test_a_caretaker_away_from_the_desk_does_not_hold_a_new_chat(live, shop, widget, agent):
    async def scenario():
        v = await visitor()
        await hello(v, identity=None)
        await v.send_json_to({"type": "message", "client_id": "c1", "text": "Hej"})
        ack = await next_frame(v, lambda f: f["type"] == "ack")
        contact = await sync_to_async(Contact.objects.get)(conversations__messages__pk=ack["id"])
        contact.caretaker = agent
        await sync_to_async(contact.save)()
        await v.disconnect()
        # A second chat of the same contact (a new session, identified as them) routes to the caretaker,
        # who has no desk open: it goes to the queue.
        session = await sync_to_async(ChatSession.objects.get)()
        s2 = await sync_to_async(ChatSession.objects.create)(
            shop=shop,
            inbox=widget.inbox,
            key="second-session-key-0001",
            contact=contact,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
        )
        stored = await sync_to_async(services.chat_message_store)(
            session=s2, widget=widget, client_id="c1", text="Znowu ja"
        )
        conversation = await sync_to_async(Conversation.objects.get)(messages__pk=stored.message.pk)
        assert conversation.assignee_id is None

        # With the caretaker at the desk, the next chat stays theirs.
        await sync_to_async(services.agent_presence_change)(agent_id=agent.pk, shop_id=shop.pk, delta=1)
        s3 = await sync_to_async(ChatSession.objects.create)(
            shop=shop,
            inbox=widget.inbox,
            key="third-session-key-00001",
            contact=contact,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
        )
        stored = await sync_to_async(services.chat_message_store)(
            session=s3, widget=widget, client_id="c1", text="I jeszcze raz"
        )
        conversation = await sync_to_async(Conversation.objects.get)(messages__pk=stored.message.pk)
        assert conversation.assignee_id == agent.pk

    live(scenario)


def test_the_maximum_of_chats_per_agent(shop, agent, django_capture_on_commit_callbacks):
    widget = make_widget(shop, max_chats_per_agent=1)
    services.agent_presence_change(agent_id=agent.pk, shop_id=shop.pk, delta=1)
    assert AgentPresence.objects.get(agent=agent).sockets == 1
    chats = []
    for n in range(2):
        session = services.chat_session_open(widget=widget, key=None)
        chats.append(
            services.chat_message_store(
                session=session, widget=widget, client_id="c", text=f"chat {n}"
            ).message.conversation
        )
    services.chat_accept(conversation=chats[0], agent=agent, widget=widget)
    with pytest.raises(services.ValidationFailed):
        services.chat_accept(conversation=chats[1], agent=agent, widget=widget)
    chats[1].refresh_from_db()
    assert chats[1].assignee_id is None
    # Full: the widget is offline for new visitors (nobody else has room).
    from django.core.cache import cache

    from opiekun.livechat.selectors import widget_online

    cache.clear()
    assert (
        widget_online(
            widget=make_widget(
                shop,
                name="Strict",
                public_key="strictwidgetkey000000",
                offline_when_no_agents=True,
                max_chats_per_agent=1,
            )
        )
        is False
    )


def test_presence_decides_whether_the_widget_is_online(shop, agent):
    from django.core.cache import cache

    from opiekun.livechat.selectors import widget_online

    widget = make_widget(shop, offline_when_no_agents=True)
    assert widget_online(widget=widget) is False
    services.agent_presence_change(agent_id=agent.pk, shop_id=shop.pk, delta=1)
    cache.clear()
    assert widget_online(widget=widget) is True
    services.agent_presence_change(agent_id=agent.pk, shop_id=shop.pk, delta=-1)
    cache.clear()
    assert widget_online(widget=widget) is False


def test_an_installation_can_set_its_own_chat_limits(db, shop, settings):
    from opiekun.core.errors import RateLimited

    widget = make_widget(shop)
    settings.OPIEKUN_CHAT_LIMITS = {"message": (1, 60), "session": (1, 600)}
    session = services.chat_session_open(widget=widget, key=None, ip="10.0.0.1")
    services.chat_message_store(session=session, widget=widget, client_id="a", text="one")
    with pytest.raises(RateLimited):
        services.chat_message_store(session=session, widget=widget, client_id="b", text="two")
    with pytest.raises(RateLimited):
        services.chat_session_open(widget=widget, key=None, ip="10.0.0.1")
    assert services.chat_session_open(widget=widget, key=None, ip="10.0.0.2").pk != session.pk


def test_two_tabs_of_one_visitor_share_one_case(db, shop):
    widget = make_widget(shop)
    tab_one = services.chat_session_open(widget=widget, key=None)
    tab_two = ChatSession.objects.get(pk=tab_one.pk)  # the same session, loaded by another socket
    first = services.chat_message_store(
        session=tab_one, widget=widget, client_id="a", text="z pierwszej karty"
    )
    second = services.chat_message_store(
        session=tab_two, widget=widget, client_id="b", text="z drugiej karty"
    )
    assert first.message.conversation_id == second.message.conversation_id
    assert Conversation.objects.count() == 1 and Contact.objects.count() == 1


def test_messages_arriving_together_are_stored_in_one_pass(db, shop, monkeypatch):
    from opiekun.inboxes import pipeline

    widget = make_widget(shop)
    passes = []
    real = pipeline.process_many
    monkeypatch.setattr(
        pipeline, "process_many", lambda **kw: passes.append(len(kw["messages"])) or real(**kw)
    )
    sessions = [services.chat_session_open(widget=widget, key=None) for _ in range(3)]
    old = services.chat_session_open(widget=widget, key=None)
    services.chat_message_store(session=old, widget=widget, client_id="x", text="earlier")
    passes.clear()
    R = services.ChatMessageRequest
    requests = [
        *(R(s, widget, "first", f"hello from {n}") for n, s in enumerate(sessions)),
        R(sessions[0], widget, "second", "and again"),  # before its case exists: joins it afterwards
        R(sessions[1], widget, "first", "hello from 1"),  # the same message twice in the batch
        R(old, widget, "x", "earlier"),  # stored long ago
        R(old, widget, "y", "a follow-up on an open case"),
        R(old, widget, "z", "a" * (services.MAX_TEXT + 1)),
    ]
    outcomes = services.chat_messages_store_many(requests)
    assert passes[0] == 3  # three new cases in one pass of the pipeline; the open case's went past it
    stored = [o for o in outcomes if isinstance(o, services.StoredMessage)]
    assert len(stored) == 7 and isinstance(outcomes[-1], services.ValidationFailed)
    assert outcomes[4].message.pk == outcomes[1].message.pk  # the doubled one: one message
    assert outcomes[5].duplicate is True
    assert outcomes[3].message.conversation_id == outcomes[0].message.conversation_id
    assert Conversation.objects.count() == 4
    assert Message.objects.count() == 1 + 5
    for session in sessions:
        session.refresh_from_db()
        assert session.conversation_id is not None


def test_a_message_into_an_open_chat_skips_the_pipeline_and_counts_like_one(db, shop, monkeypatch):
    from opiekun.conversations.models import Event
    from opiekun.inboxes import pipeline

    widget = make_widget(shop)
    session = services.chat_session_open(widget=widget, key=None)
    first = services.chat_message_store(session=session, widget=widget, client_id="a", text="dzień dobry")
    case = first.message.conversation
    Conversation.objects.filter(pk=case.pk).update(waiting_since=None, sla_due_at=None, status="resolved")
    passes = []
    real = pipeline.process_many
    monkeypatch.setattr(
        pipeline, "process_many", lambda **kw: passes.append(len(kw["messages"])) or real(**kw)
    )
    events_before = Event.objects.filter(conversation=case).count()
    R = services.ChatMessageRequest
    outcomes = services.chat_messages_store_many(
        [R(session, widget, "b", "czy jest rozmiar 39?"), R(session, widget, "c", "i w kolorze czarnym")]
    )
    assert passes == []
    assert [o.message.conversation_id for o in outcomes] == [case.pk, case.pk]
    case.refresh_from_db()
    assert case.message_count == 3 and case.status == "open"  # the customer wrote: the case reopens
    assert case.waiting_since is not None and case.sla_due_at is not None  # and its clock runs again
    message = outcomes[0].message
    assert (message.channel, message.direction, message.author_contact_id) == (
        "livechat",
        "in",
        case.contact_id,
    )
    assert message.external_id == f"{session.key}:b" and message.meta["client_id"] == "b"
    assert Event.objects.filter(conversation=case).count() == events_before + 1  # "reopened"
    # A resend of the same message is still one message (the ack carries the id it has).
    again = services.chat_messages_store_many([R(session, widget, "b", "czy jest rozmiar 39?")])
    assert again[0].duplicate and again[0].message.pk == message.pk
    assert Message.objects.filter(conversation=case).count() == 3


def test_a_message_into_a_chat_of_someone_else_goes_the_pipelines_way(db, shop):
    widget = make_widget(shop)
    session = services.chat_session_open(widget=widget, key=None)
    first = services.chat_message_store(session=session, widget=widget, client_id="a", text="dzień dobry")
    stranger = factories.ContactFactory(shop=shop)
    Conversation.objects.filter(pk=first.message.conversation_id).update(contact=stranger)
    R = services.ChatMessageRequest
    (outcome,) = services.chat_messages_store_many([R(session, widget, "b", "jeszcze jedno")])
    assert outcome.message.conversation_id != first.message.conversation_id  # a case of their own
    assert Message.objects.filter(conversation_id=first.message.conversation_id).count() == 1


def test_a_deactivated_agents_chat_socket_is_closed_on_its_next_check(live, agent, monkeypatch):
    from opiekun.realtime import consumers  # the agent sockets' shared sign-in check

    monkeypatch.setattr(consumers, "RECHECK_EVERY", 0)

    async def scenario():
        desk = await agent_socket(agent.user)
        await next_frame(desk, lambda f: f["type"] == "waiting")
        await desk.send_json_to({"type": "ping"})
        assert (await next_frame(desk))["type"] == "pong"
        agent.user.is_active = False
        await sync_to_async(agent.user.save)()
        await desk.send_json_to({"type": "ping"})
        closed = None
        for _ in range(5):
            message = await desk.receive_output(timeout=2)
            if message["type"] == "websocket.close":
                closed = message
                break
        assert closed == {"type": "websocket.close", "code": consumers.CLOSE_UNAUTHENTICATED}
        await desk.disconnect()  # the browser completes the close
        assert (await sync_to_async(AgentPresence.objects.get)(agent=agent)).sockets == 0

    live(scenario)


def test_the_visitor_sees_who_is_answering(live, widget, agent):
    from opiekun.conversations.services import conversation_assign

    async def scenario():
        v, welcome, _ack, conversation = await start_chat()
        assert welcome["agent"] == ""
        await sync_to_async(conversation_assign)(conversation=conversation, agent=agent, actor=agent)
        assert await next_frame(v, lambda f: f["type"] == "agent") == {"type": "agent", "name": "Anna"}
        await v.disconnect()
        again = await visitor()
        assert (await hello(again, session=welcome["session"]))["agent"] == "Anna"
        await again.disconnect()

    live(scenario)


def test_the_open_widget_hears_when_the_shop_comes_online_and_goes_away(live, shop, agent, monkeypatch):
    from opiekun.livechat import fanout

    monkeypatch.setattr(fanout, "ONLINE_DELAY", 0.05)
    fanout._online_told.clear()
    widget = make_widget(shop, offline_when_no_agents=True)

    async def scenario():
        v = await visitor()
        welcome = await hello(v)
        assert welcome["online"] is False  # nobody at the desk
        desk = await agent_socket(agent.user)
        assert (await next_frame(v, lambda f: f["type"] == "online"))["online"] is True
        await desk.disconnect()
        assert (await next_frame(v, lambda f: f["type"] == "online"))["online"] is False
        await v.disconnect()

    live(scenario)
    assert widget.inbox.pk in fanout._online_told


def test_another_shops_desk_coming_online_tells_this_widget_nothing(live, shop, other_shop, monkeypatch):
    from opiekun.livechat import fanout

    monkeypatch.setattr(fanout, "ONLINE_DELAY", 0.05)
    fanout._online_told.clear()
    make_widget(shop, offline_when_no_agents=True)
    stranger = factories.AgentFactory(shop=other_shop)

    async def scenario():
        v = await visitor()
        assert (await hello(v))["online"] is False
        desk = await agent_socket(stranger.user)
        assert [f for f in await quiet(v, 0.4) if f["type"] == "online"] == []
        await desk.disconnect()
        await v.disconnect()

    live(scenario)


def test_a_reply_assigns_a_chat_only_below_the_agents_maximum_of_chats(db, shop, agent):
    widget = make_widget(shop, max_chats_per_agent=1)

    def new_chat(client_id):  # type: ignore[no-untyped-def]
        session = services.chat_session_open(widget=widget, key=None)
        stored = services.chat_message_store(session=session, widget=widget, client_id=client_id, text="hej")
        case = stored.message.conversation
        Conversation.objects.filter(pk=case.pk).update(assignee=None)
        case.refresh_from_db()
        return case

    first, second = new_chat("a"), new_chat("b")
    message_send(conversation=first, agent=agent, text="Dzień dobry!", status_after=None)
    first.refresh_from_db()
    assert first.assignee_id == agent.pk  # below the maximum: the reply takes the chat
    message_send(conversation=second, agent=agent, text="Już odpowiadam", status_after=None)
    second.refresh_from_db()
    assert second.assignee_id is None  # at the maximum: answered, but it stays with the team
    assert Message.objects.filter(conversation=second, direction="out").count() == 1
    # Other channels know no such maximum.
    mail_case = factories.ConversationFactory(shop=shop, assignee=None)
    message_send(conversation=mail_case, agent=agent, text="Odpowiedź", status_after=None)
    mail_case.refresh_from_db()
    assert mail_case.assignee_id == agent.pk


def _left_chat_with_reply(shop, agent, *, email: str | None):  # type: ignore[no-untyped-def]
    from opiekun.contacts.services import identity_add

    widget = make_widget(shop)
    factories.InboxFactory(shop=shop, kind="email", name="Poczta", config={"address": "bok@sklep.test"})
    session = services.chat_session_open(widget=widget, key=None)
    stored = services.chat_message_store(session=session, widget=widget, client_id="a", text="Gdzie paczka?")
    case = stored.message.conversation
    if email:
        identity_add(contact=case.contact, kind="email", value=email)
    services.chat_session_left(session_id=session.pk)  # the visitor closed the page
    reply = message_send(conversation=case, agent=agent, text="Paczka wyjechała dziś rano.")
    Message.objects.filter(pk=reply.pk).update(delivery_status="sent")
    return session, case, reply


def test_a_reply_the_visitor_left_without_seeing_is_emailed_once_on_the_same_case(
    db, shop, agent, mailoutbox, django_capture_on_commit_callbacks
):
    _session, case, reply = _left_chat_with_reply(shop, agent, email="ewa@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        emailed = services.chat_reply_email_if_away(message_id=reply.pk)
    assert emailed is not None and emailed.channel == "email" and emailed.conversation_id == case.pk
    assert [m.to for m in mailoutbox] == [["ewa@example.org"]]
    assert f"[#{case.number}]" in mailoutbox[0].subject  # threaded on the case
    assert emailed.text == reply.text and emailed.author_agent_id == agent.pk
    reply.refresh_from_db()
    assert reply.meta["emailed_as"] == emailed.pk
    with django_capture_on_commit_callbacks(execute=True):
        assert services.chat_reply_email_if_away(message_id=reply.pk) is None  # once
    assert len(mailoutbox) == 1


def test_a_reply_is_not_emailed_when_seen_when_a_tab_is_open_or_without_an_address(
    db, shop, agent, mailoutbox, django_capture_on_commit_callbacks
):
    session, case, reply = _left_chat_with_reply(shop, agent, email=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.chat_reply_email_if_away(message_id=reply.pk) is None  # no address known
    from opiekun.contacts.services import identity_add

    identity_add(contact=case.contact, kind="email", value="ewa@example.org")
    ChatSession.objects.filter(pk=session.pk).update(connected=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.chat_reply_email_if_away(message_id=reply.pk) is None  # a tab is open
    ChatSession.objects.filter(pk=session.pk).update(connected=0)
    Message.objects.filter(pk=reply.pk).update(delivery_status="delivered")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.chat_reply_email_if_away(message_id=reply.pk) is None  # the widget showed it
    assert mailoutbox == []
    assert not Message.objects.filter(conversation=case, channel="email").exists()


def test_a_chat_reply_schedules_the_look_again_and_other_replies_do_not(db, shop, agent, monkeypatch):
    from opiekun.livechat import tasks

    scheduled = []
    monkeypatch.setattr(
        tasks.email_reply_if_away, "schedule", lambda args, delay: scheduled.append((args, delay))
    )
    _session, _case, reply = _left_chat_with_reply(shop, agent, email=None)  # the reply's event schedules it
    assert scheduled == [((reply.pk,), services.EMAIL_AFTER_MINUTES * 60)]
    mail_case = factories.ConversationFactory(shop=shop)
    message_send(conversation=mail_case, agent=agent, text="Odpowiedź mailem")
    assert len(scheduled) == 1  # not a chat reply
