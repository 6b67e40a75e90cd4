"""What `opiekun demo` seeds: the demo shop, its people, customers, macros and ~50 case histories.

Plain data only; `commands/demo.py` plays it through the real services and the inbound pipeline.
Texts are written the way customers and agents of a Polish online shop really write (Polish,
Russian, English), so the desk, search and the portal look like a working day, not lorem ipsum.

A story is a list of steps, each `(kind, minutes after the previous step, ...)`:

    ("in", gap, text[, {"channel": ...}])          the customer writes (first one opens the case)
    ("reply", gap, agent, text[, options])          message_send; options: channel, status_after, failed
    ("note", gap, agent, text)                      an internal note
    ("call", gap, agent, "in"|"out", text[, kind])  an agent logs a call/letter/visit (note driver, pipeline)
    ("status", gap, agent, status)                  conversation_set_status
    ("assign", gap, actor, agent|None[, team])      conversation_assign (team: "support" | "claims")
    ("priority", gap, actor, level)                 conversation_set_priority (0 low … 3 urgent)
"""

# Demo texts are Polish, Russian and English: Cyrillic letters and typographic dashes are meant.
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHOP: dict[str, str] = {
    "slug": "demo",
    "name": "Sklep Demo",
    "sender_email": "support@sklep-demo.localhost",
    "website": "https://sklep-demo.localhost",
    "brand_color": "#1f6f5c",
    "default_language": "pl",
}

AGENTS: list[dict[str, Any]] = [
    {
        "username": "anna",
        "display_name": "Anna Nowak",
        "role": "admin",
        "languages": ["pl", "en"],
        "email": "anna@sklep-demo.localhost",
        "sender_email": "anna@sklep-demo.localhost",
        "signature": "Anna Nowak\nObsługa klienta · Sklep Demo\ntel. +48 22 100 20 30",
    },
    {
        "username": "piotr",
        "display_name": "Piotr Wiśniewski",
        "role": "agent",
        "languages": ["pl"],
        "email": "piotr@sklep-demo.localhost",
        "sender_email": "",
        "signature": "Piotr Wiśniewski\nSklep Demo — obsługa klienta",
    },
    {
        "username": "olga",
        "display_name": "Olga Iwanowa",
        "role": "lead",
        "languages": ["ru", "pl"],
        "email": "olga@sklep-demo.localhost",
        "sender_email": "",
        "signature": "Olga Iwanowa / Ольга Иванова\nDział reklamacji · Sklep Demo",
    },
]

# key → (name, members, lead)
TEAMS: dict[str, tuple[str, list[str], str]] = {
    "support": ("Obsługa klienta", ["anna", "piotr", "olga"], "anna"),
    "claims": ("Reklamacje", ["olga", "piotr"], "olga"),
}

# key → (name, kind, team key)
INBOXES: dict[str, tuple[str, str, str]] = {
    "webform": ("Formularz kontaktowy", "webform", "support"),
    "note": ("Kontakty zapisane", "note", "support"),
    "email": ("Poczta", "email", "support"),
}
# Settings of the demo inboxes that have any (the mailbox is fed by the demo, not pulled over IMAP).
INBOX_CONFIG: dict[str, dict[str, Any]] = {
    "email": {"address": "pomoc@sklep-demo.localhost", "send_acknowledgment": False},
}

ABSENCE: dict[str, Any] = {"agent": "piotr", "days_before": 2, "days_after": 3, "reason": "Urlop"}


@dataclass(frozen=True)
class Customer:
    name: str
    language: str
    email: str = ""
    phone: str = ""
    caretaker: str = ""
    backup: str = ""
    notes: str = ""


CUSTOMERS: dict[str, Customer] = {
    "jan": Customer(
        "Jan Kowalski",
        "pl",
        "jan.kowalski@example.com",
        "+48 601 234 567",
        "anna",
        "piotr",
        "Stały klient, kupuje co kilka tygodni. Woli kontakt mailowy.",
    ),
    "ewa": Customer("Ewa Zielińska", "pl", "ewa.zielinska@example.org", "+48 502 118 431", "piotr", "olga"),
    "marek": Customer("Marek Wójcik", "pl", "marek.wojcik@example.net", "+48 698 440 210", "piotr", "anna"),
    "katarzyna": Customer("Katarzyna Lewandowska", "pl", "k.lewandowska@example.com", "+48 733 905 118"),
    "tomasz": Customer("Tomasz Kamiński", "pl", "tomasz.kaminski@example.org", "+48 512 300 776", "anna"),
    "agnieszka": Customer(
        "Agnieszka Dąbrowska", "pl", "agnieszka.dabrowska@example.com", "+48 667 212 090", "piotr", "olga"
    ),
    "michal": Customer("Michał Szymański", "pl", "michal.szymanski@example.net", "+48 605 781 334"),
    "magdalena": Customer(
        "Magdalena Woźniak",
        "pl",
        "magda.wozniak@example.com",
        "+48 790 654 321",
        "anna",
        "olga",
        "Kupuje dla firmy — zawsze faktura VAT.",
    ),
    "krzysztof": Customer("Krzysztof Kozłowski", "pl", "krzysztof.kozlowski@example.org", "+48 721 110 445"),
    "joanna": Customer("Joanna Jankowska", "pl", "joanna.jankowska@example.com", "+48 508 909 212"),
    "pawel": Customer("Paweł Mazur", "pl", "pawel.mazur@example.net", "+48 602 447 180", "piotr", "anna"),
    "barbara": Customer("Barbara Krawczyk", "pl", "barbara.krawczyk@example.org", "+48 691 330 557"),
    "grzegorz": Customer("Grzegorz Piotrowski", "pl", "g.piotrowski@example.com", "+48 530 221 964"),
    "zofia": Customer(
        "Zofia Grabowska",
        "pl",
        "zofia.grabowska@example.net",
        "+48 784 500 163",
        "anna",
        "",
        "Starsza pani, woli zamówienia telefoniczne. Mówić wolno i wyraźnie.",
    ),
    "lukasz": Customer("Łukasz Nowicki", "pl", "lukasz.nowicki@example.com", "+48 609 873 402"),
    "aleksandra": Customer(
        "Aleksandra Pawłowska", "pl", "ola.pawlowska@example.org", "+48 515 640 277", "olga"
    ),
    "hanna": Customer("Hanna Kubiak", "pl", "hanna.kubiak@example.com", "+48 600 700 800"),
    "wojciech": Customer("Wojciech Kaczmarek", "pl", "", "+48 694 202 118"),
    "saldo": Customer(
        "Biuro Rachunkowe Saldo",
        "pl",
        "faktury@saldo.example.com",
        "+48 22 654 32 10",
        "anna",
        "piotr",
        "Klient firmowy: faktury zawsze na NIP 525-111-22-38, przelew 14 dni.",
    ),
    "dmitry": Customer("Дмитрий Смирнов", "ru", "d.smirnov@example.com", "+7 916 123-45-67", "olga", "anna"),
    "natalia": Customer(
        "Наталья Кузнецова", "ru", "n.kuznetsova@example.com", "+48 571 208 336", "olga", "piotr"
    ),
    "sergey": Customer("Sergey Popov", "ru", "sergey.popov@example.net", "+7 925 700-11-22"),
    "irina": Customer("Ирина Волкова", "ru", "irina.volkova@example.org", "+375 29 123 45 67", "olga"),
    "alexei": Customer("Алексей Морозов", "ru", "a.morozov@example.com", "+48 880 412 905"),
    "elena": Customer(
        "Elena Sokolova", "ru", "elena.sokolova@example.net", "+7 903 456-78-90", "olga", "anna"
    ),
    "oksana": Customer("Оксана Коваленко", "ru", "oksana.kovalenko@example.com", "+48 577 301 884"),
    "emily": Customer("Emily Carter", "en", "emily.carter@example.com", "+44 7700 900123", "anna"),
    "james": Customer("James O'Connor", "en", "james.oconnor@example.org", "+353 85 123 4567"),
    "sophie": Customer("Sophie Müller", "en", "sophie.mueller@example.net", "+49 151 23456789"),
    "david": Customer("David Brown", "en", "david.brown@example.com", "+1 202 555 0143"),
    "laura": Customer("Laura Bianchi", "en", "laura.bianchi@example.org", "+39 347 123 4567"),
}

MACROS: list[dict[str, str]] = [
    {
        "name": "Status zamówienia",
        "language": "pl",
        "add_tags": "dostawa",
        "set_status": "pending_customer",
        "body": "Dzień dobry {{ contact.first_name }},\n\nsprawdziłam/em zamówienie {{ "
        "conversation.order_ref }}: "
        "paczka jest już w drodze i kurier powinien dostarczyć ją w ciągu 1–2 dni roboczych. "
        "Numer przesyłki znajdzie Pan/Pani w portalu klienta.\n\nPozdrawiam\n{{ agent.name }}",
    },
    {
        "name": "Zwrot towaru",
        "language": "pl",
        "add_tags": "zwrot",
        "set_status": "pending_customer",
        "body": "Dzień dobry {{ contact.first_name }},\n\nzwrot z zamówienia {{ conversation.order_ref }} "
        "przyjmiemy w ciągu 30 dni od odbioru. Etykietę zwrotną wyślemy mailem, a pieniądze "
        "oddamy do 5 dni roboczych od przyjęcia paczki w magazynie.\n\nPozdrawiam\n{{ agent.name }}",
    },
    {
        "name": "Reklamacja przyjęta",
        "language": "pl",
        "add_tags": "reklamacja",
        "set_status": "pending_internal",
        "body": "Dzień dobry {{ contact.first_name }},\n\nprzyjęliśmy reklamację do zamówienia "
        "{{ conversation.order_ref }} (sprawa #{{ conversation.number }}). Odpowiemy najpóźniej "
        "w ciągu 14 dni; o każdej zmianie poinformujemy od razu.\n\nPozdrawiam\n{{ agent.name }}",
    },
    {
        "name": "Faktura VAT",
        "language": "pl",
        "add_tags": "faktura",
        "set_status": "resolved",
        "body": "Dzień dobry {{ contact.first_name }},\n\nfaktura do zamówienia {{ conversation.order_ref }} "
        "jest już w portalu klienta (zakładka „Dokumenty”) i wysłaliśmy ją też mailem.\n\n"
        "Pozdrawiam\n{{ agent.name }}",
    },
    {
        "name": "Order status",
        "language": "en",
        "add_tags": "dostawa",
        "set_status": "pending_customer",
        "body": "Hello {{ contact.first_name }},\n\nI have checked order {{ conversation.order_ref }}: it "
        "is on its "
        "way and the courier should deliver it within 1–2 working days. The tracking number is in "
        "your customer portal.\n\nBest regards,\n{{ agent.name }}",
    },
    {
        "name": "Returns",
        "language": "en",
        "add_tags": "zwrot",
        "set_status": "pending_customer",
        "body": "Hello {{ contact.first_name }},\n\nyou can return items from order {{ "
        "conversation.order_ref }} "
        "within 30 days of delivery. We will e-mail you a prepaid return label and refund you within "
        "5 working days of receiving the parcel.\n\nBest regards,\n{{ agent.name }}",
    },
    {
        "name": "Статус заказа",
        "language": "ru",
        "add_tags": "dostawa",
        "set_status": "pending_customer",
        "body": "Здравствуйте, {{ contact.first_name }}!\n\nЯ проверила заказ {{ conversation.order_ref }}: "
        "посылка уже в пути, курьер доставит её в течение 1–2 рабочих дней. Номер отслеживания "
        "есть в личном кабинете.\n\nС уважением,\n{{ agent.name }}",
    },
    {
        "name": "Возврат товара",
        "language": "ru",
        "add_tags": "zwrot",
        "set_status": "pending_customer",
        "body": "Здравствуйте, {{ contact.first_name }}!\n\nВернуть товар из заказа {{ "
        "conversation.order_ref }} "
        "можно в течение 30 дней после получения. Мы пришлём этикетку для возврата по почте, "
        "а деньги вернём в течение 5 рабочих дней после получения посылки.\n\nС уважением,\n"
        "{{ agent.name }}",
    },
]

PENDING_INTERNAL = {"status_after": "pending_internal"}
KEEP_OPEN = {"status_after": "open"}


@dataclass(frozen=True)
class Story:
    customer: str
    channel: str  # webform | note | email | sms | livechat | voice
    ago: str  # when the first step happened, e.g. "2h15m", "5d3h"
    subject: str
    steps: list[tuple[Any, ...]]
    order: str = ""
    tags: tuple[str, ...] = ()
    note_kind: str = "call"  # for channel "note": call | letter | fax | visit
    logged_by: str = ""  # for channel "note": the agent who logged the first contact
    meta: dict[str, Any] = field(default_factory=dict)


STORIES: list[Story] = [
    # --- New and unanswered: the queue and "mine" ------------------------------------------------------
    Story(
        "jan",
        "webform",
        "2h15m",
        "Gdzie jest moja paczka?",
        order="SD-10452",
        tags=("dostawa",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry, zamówiłem 3 dni temu czajnik elektryczny (zamówienie SD-10452) i status od "
                "wczoraj stoi na „wysłane”, ale numer przesyłki nic nie pokazuje na stronie kuriera. Czy "
                "paczka na pewno wyszła?\n\nPozdrawiam\nJan Kowalski",
            ),
            ("status", 18, "anna", "open"),
            (
                "note",
                2,
                "anna",
                "Sprawdzam w panelu InPost — etykieta nadana wczoraj o 16:40, brak skanu przyjęcia "
                "w sortowni. Zapytałam magazyn, czy paczka faktycznie odjechała.",
            ),
        ],
    ),
    Story(
        "katarzyna",
        "webform",
        "35m",
        "Zmiana adresu dostawy",
        order="SD-10498",
        steps=[
            (
                "in",
                0,
                "Witam, czy mogę jeszcze zmienić adres dostawy w zamówieniu SD-10498? Zamiast ul. Lipowej 4 "
                "w Krakowie proszę o wysyłkę do paczkomatu KRA12M. Dziękuję!",
            ),
        ],
    ),
    Story(
        "michal",
        "webform",
        "1h10m",
        "Faktura na firmę",
        order="SD-10477",
        tags=("faktura",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry, przy zamówieniu SD-10477 zapomniałem zaznaczyć fakturę VAT. Proszę o "
                "wystawienie "
                "faktury na: Szymański Serwis Sp. z o.o., NIP 525-000-00-00, ul. Polna 12, 00-625 Warszawa.",
            ),
        ],
    ),
    Story(
        "james",
        "webform",
        "50m",
        "Do you ship to Ireland?",
        steps=[
            (
                "in",
                0,
                "Hi, I'd like to order the Nordic oak desk lamp but the checkout only offers Polish "
                "addresses. "
                "Do you ship to Ireland, and how long does it usually take?\n\nThanks,\nJames",
            ),
        ],
    ),
    Story(
        "oksana",
        "webform",
        "20m",
        "Возврат товара",
        order="SD-10433",
        tags=("zwrot",),
        steps=[
            (
                "in",
                0,
                "Здравствуйте! Я получила заказ SD-10433, но кроссовки оказались малы. Хочу вернуть их и "
                "получить деньги. Как оформить возврат? Коробка и чек сохранились.",
            ),
        ],
    ),
    Story(
        "laura",
        "webform",
        "2h40m",
        "Change of delivery address",
        order="SD-10491",
        steps=[
            (
                "in",
                0,
                "Hello, I've just placed order SD-10491 and noticed I typed the wrong flat number. It "
                "should be "
                "ul. Mokotowska 21 flat 7, not 17. Could you correct it before the parcel ships? Grazie!",
            ),
        ],
    ),
    Story(
        "alexei",
        "voice",
        "1h",
        "Nieodebrane połączenie",
        meta={"call": "missed"},
        steps=[
            ("in", 0, "Nieodebrane połączenie z +48 880 412 905 — klient nie zostawił wiadomości."),
        ],
    ),
    # --- SLA at risk -----------------------------------------------------------------------------------
    Story(
        "krzysztof",
        "webform",
        "6h",
        "Uszkodzony towar — pęknięta płyta kuchenki",
        order="SD-10390",
        tags=("reklamacja", "uszkodzenie"),
        steps=[
            (
                "in",
                0,
                "Dzień dobry, paczka dotarła dziś rano, ale karton był zgnieciony, a szklana płyta kuchenki "
                "jest pęknięta. Zdjęcia nie chcą się wgrać przez formularz, mogę wysłać mailem. Co dalej? "
                "Kuchenka jest mi potrzebna na weekend.",
            ),
            ("priority", 12, "anna", 3),
            ("assign", 1, "anna", None, "claims"),
        ],
    ),
    Story(
        "barbara",
        "email",
        "5h",
        "Brak zwrotu pieniędzy",
        order="SD-10211",
        tags=("zwrot",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry,\n\n14 dni temu odesłałam zwrot (zamówienie SD-10211, numer nadania "
                "6200 1234 5678). Paczka została odebrana przez Państwa magazyn 10 dni temu, a pieniądze "
                "nadal nie wróciły na konto. Proszę o informację, kiedy mogę się ich spodziewać.\n\n"
                "Barbara Krawczyk",
            ),
            ("priority", 20, "olga", 2),
            ("assign", 1, "olga", "anna"),
        ],
    ),
    Story(
        "wojciech",
        "sms",
        "4h",
        "SMS: kurier nie przyjechał",
        order="SD-10470",
        tags=("dostawa",),
        steps=[
            (
                "in",
                0,
                "Dzien dobry, kurier nie przyjechal, czekalem caly dzien. Zam SD-10470. Kiedy nowy termin?",
            ),
        ],
    ),
    Story(
        "natalia",
        "email",
        "5h30m",
        "Не пришёл номер отслеживания",
        order="SD-10480",
        tags=("dostawa",),
        steps=[
            (
                "in",
                0,
                "Здравствуйте, Ольга!\n\nЗаказ SD-10480 оплачен позавчера, но я до сих пор не получила номер "
                "отслеживания. Всё в порядке?\n\nНаталья",
            ),
        ],
    ),
    # --- The backup at work: Piotr is on leave, his customers reach Olga or Anna ----------------------------
    Story(
        "ewa",
        "webform",
        "1d2h",
        "Reklamacja butów",
        order="SD-10301",
        tags=("reklamacja",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry Panie Piotrze, w butach z zamówienia SD-10301 po dwóch tygodniach noszenia "
                "odkleiła się podeszwa lewego buta. Chciałabym złożyć reklamację. Czy mam je odesłać do "
                "Państwa, czy wystarczą zdjęcia?",
            ),
            (
                "note",
                25,
                "olga",
                "Piotr na urlopie do piątku — przejmuję. Poprosiłam magazyn o etykietę zwrotną dla klientki.",
            ),
            ("status", 1, "olga", "pending_internal"),
        ],
    ),
    Story(
        "marek",
        "email",
        "20h",
        "Termin dostawy sofy",
        order="SD-10415",
        tags=("dostawa",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry, kiedy mogę się spodziewać dostawy sofy Oslo? W potwierdzeniu było 5–7 dni "
                "roboczych, a mija już dziewiąty.",
            ),
            (
                "reply",
                40,
                "anna",
                "Dzień dobry Panie Marku,\n\nsprawdziłam u przewoźnika: sofa wyjechała wczoraj z "
                "magazynu producenta i jutro trafi do naszego partnera w Poznaniu. Przewoźnik "
                "zadzwoni dzień przed dostawą, żeby umówić godzinę.\n\nPrzepraszam za opóźnienie — "
                "w ramach rekompensaty dopisałam do zamówienia bezpłatne wniesienie.",
            ),
            ("in", 190, "Dziękuję, w takim razie czekam na telefon."),
            ("status", 15, "anna", "resolved"),
        ],
    ),
    Story(
        "pawel",
        "sms",
        "3h30m",
        "SMS: odbiór osobisty",
        order="SD-10488",
        steps=[
            ("in", 0, "Dzień dobry, czy mogę odebrać zamówienie SD-10488 osobiście w sklepie na Mokotowie?"),
            (
                "reply",
                25,
                "anna",
                "Tak, zamówienie będzie gotowe do odbioru jutro od 12:00 w salonie przy "
                "ul. Puławskiej 145. Prosimy o numer zamówienia. Anna, Sklep Demo",
            ),
            ("in", 10, "Super, dziekuje!"),
            ("status", 3, "anna", "resolved"),
        ],
    ),
    Story(
        "agnieszka",
        "note",
        "1d5h",
        "Telefon: raty na pralkę",
        order="SD-10460",
        logged_by="olga",
        steps=[
            (
                "in",
                0,
                "Klientka dzwoniła z pytaniem, czy pralkę z zamówienia SD-10460 można jeszcze rozłożyć na "
                "raty "
                "0%. Zamówienie opłacone przelewem — obiecałam sprawdzić z księgowością i oddzwonić do "
                "jutra.",
            ),
            (
                "note",
                90,
                "olga",
                "Księgowość: zmiana na raty tylko przez zwrot płatności i nowy wniosek kredytowy. "
                "Zapytam klientkę, czy chce.",
            ),
            ("call", 1100, "olga", "out", "Oddzwoniłam — klientka rezygnuje z rat, zostaje przy przelewie."),
            ("status", 2, "olga", "resolved"),
        ],
    ),
    Story(
        "pawel",
        "webform",
        "3d",
        "Reklamacja: pralka głośno pracuje",
        order="SD-10260",
        tags=("reklamacja",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry, nowa pralka przy wirowaniu hałasuje jak startujący samolot i przesuwa się po "
                "łazience. Czy to normalne? Zamówienie SD-10260.",
            ),
            (
                "reply",
                120,
                "piotr",
                "Dzień dobry Panie Pawle,\n\nproszę sprawdzić, czy z tyłu pralki zostały zdjęte "
                "cztery śruby transportowe — to najczęstsza przyczyna. Jeśli tak, zgłoszę "
                "serwis producenta.",
            ),
            ("in", 1500, "Śruby zdjęte, nadal hałasuje tak samo. Proszę o serwis."),
            ("note", 40, "olga", "Piotr na urlopie — przejmuję i zgłaszam serwis Amica (zgłoszenie 88213)."),
            ("assign", 1, "olga", "olga", "claims"),
            (
                "reply",
                5,
                "olga",
                "Dzień dobry Panie Pawle,\n\nzgłosiłam naprawę gwarancyjną (numer zgłoszenia 88213). "
                "Technik serwisu zadzwoni w ciągu 48 godzin, żeby umówić wizytę.",
                PENDING_INTERNAL,
            ),
        ],
    ),
    # --- Live conversations and waiting on the customer ------------------------------------------------
    Story(
        "joanna",
        "livechat",
        "40m",
        "Czat: sofa w kolorze zielonym",
        steps=[
            ("in", 0, "Dzień dobry, czy sofa Oslo jest dostępna w kolorze butelkowej zieleni?"),
            (
                "reply",
                2,
                "anna",
                "Dzień dobry! Tak — w kolorze butelkowa zieleń (tkanina Velvet 38) czas realizacji "
                "to ok. 3 tygodnie. Przesłać próbnik tkaniny?",
                KEEP_OPEN,
            ),
            ("in", 3, "Tak, poproszę próbnik na adres z konta."),
        ],
    ),
    Story(
        "sophie",
        "livechat",
        "3h40m",
        "Chat: discount code not working",
        steps=[
            (
                "in",
                0,
                "Hello, the code AUTUMN15 from your newsletter says 'invalid' at checkout. I have the "
                "lamp and "
                "two cushions in my cart. Can you help?",
            ),
            (
                "reply",
                4,
                "olga",
                "Hello Sophie! AUTUMN15 works from 250 zł of products without other discounts — the "
                "cushions are already on sale, so the code skips them. I have sent you a one-time "
                "code LAMP15 for the lamp alone.",
            ),
        ],
    ),
    Story(
        "david",
        "email",
        "2d",
        "Warranty for the coffee grinder",
        order="SD-10102",
        tags=("gwarancja",),
        steps=[
            (
                "in",
                0,
                "Hi there,\n\nthe burr grinder I bought in March stopped working (the motor hums but doesn't "
                "turn). Is it still under warranty, and where do I send it?\n\nDavid",
            ),
            ("assign", 30, "anna", "olga"),
            (
                "reply",
                25,
                "olga",
                "Hello David,\n\nyes — the grinder has a 24-month warranty. Please pack it in any "
                "sturdy box; I can book a free courier pickup. Which day suits you best? Repairs "
                "usually take 7–10 working days.",
            ),
        ],
    ),
    Story(
        "zofia",
        "webform",
        "26h",
        "Zamówienie telefoniczne?",
        steps=[
            (
                "in",
                0,
                "Dzień dobry, nie radzę sobie z płatnością przez internet. Czy mogę złożyć zamówienie "
                "telefonicznie i zapłacić przy odbiorze?",
            ),
            (
                "reply",
                35,
                "anna",
                "Dzień dobry Pani Zofio,\n\noczywiście. Proszę zadzwonić pod numer 22 100 20 30 "
                "(pon.–pt. 8–18) albo odpisać z numerem telefonu i dogodną godziną — oddzwonię "
                "i przyjmę zamówienie za pobraniem.",
            ),
        ],
    ),
    Story(
        "michal",
        "webform",
        "1d6h",
        "Montaż kuchenki gazowej",
        order="SD-10441",
        steps=[
            ("in", 0, "Czy w cenie kuchenki jest montaż? Mam stare przyłącze gazowe w bloku."),
            (
                "reply",
                50,
                "anna",
                "Dzień dobry Panie Michale,\n\nmontaż nie jest wliczony w cenę. Podłączenie do gazu "
                "musi wykonać instalator z uprawnieniami gazowymi — możemy polecić partnera "
                "w Warszawie (ok. 150 zł). Czy przekazać mu Pana numer?",
            ),
        ],
    ),
    Story(
        "hanna",
        "sms",
        "5h",
        "SMS: dywan 200×300",
        steps=[
            ("in", 0, "Dzien dobry czy dywan Berber jest w rozmiarze 200x300?"),
            (
                "reply",
                8,
                "anna",
                "Dzień dobry, tak — Berber 200×300 cm kosztuje 899 zł i jest od ręki. Zarezerwować? "
                "Anna, Sklep Demo",
            ),
        ],
    ),
    # --- Waiting on someone inside -------------------------------------------------------------------------
    Story(
        "tomasz",
        "email",
        "1d",
        "Brak części do regału",
        order="SD-10430",
        tags=("brak-elementu",),
        steps=[
            (
                "in",
                0,
                "W paczce z regałem Kubik brakuje woreczka ze śrubami (część nr 7 z instrukcji). Nie mogę go "
                "złożyć.",
            ),
            (
                "reply",
                45,
                "anna",
                "Dzień dobry Panie Tomaszu,\n\nprzepraszam za kłopot. Zamówiłam brakujące śruby "
                "u producenta, wyślemy je kurierem na nasz koszt — dam znać, gdy tylko dostanę "
                "numer przesyłki.",
                PENDING_INTERNAL,
            ),
            ("note", 30, "anna", "Producent (Meblik) potwierdził wysyłkę części — ok. 3 dni robocze."),
        ],
    ),
    Story(
        "natalia",
        "webform",
        "2d",
        "Возврат денег за отменённый заказ",
        order="SD-10399",
        tags=("zwrot",),
        steps=[
            (
                "in",
                0,
                "Добрый день! Я отменила заказ SD-10399 в тот же день, но деньги (349 zł) пока не вернулись.",
            ),
            (
                "reply",
                60,
                "olga",
                "Наталья, добрый день!\n\nВозврат 349 zł уже передан в бухгалтерию, деньги поступят "
                "на карту в течение 3 рабочих дней. Я прослежу и напишу вам.",
                PENDING_INTERNAL,
            ),
            (
                "note",
                5,
                "olga",
                "@anna księgowość potwierdzi przelew w czwartek — proszę przypomnieć, jeśli mnie nie będzie.",
            ),
        ],
    ),
    Story(
        "hanna",
        "note",
        "1d3h",
        "Wizyta w salonie: reklamacja dywanu",
        order="SD-10405",
        note_kind="visit",
        logged_by="anna",
        tags=("reklamacja",),
        steps=[
            (
                "in",
                0,
                "Klientka przyszła do salonu z dywanem z zamówienia SD-10405 — farbuje przy praniu. "
                "Przyjęłam "
                "dywan na reklamację, protokół nr R/112. Do decyzji działu reklamacji.",
            ),
            ("assign", 10, "anna", "olga", "claims"),
            (
                "reply",
                240,
                "olga",
                "Dzień dobry, dywan przekazaliśmy do ekspertyzy producenta. Odezwiemy się "
                "najpóźniej za 14 dni. Olga, Sklep Demo",
                {"channel": "sms", **PENDING_INTERNAL},
            ),
            ("note", 2, "olga", "Wysłane do producenta (Dywanex) kurierem, list przewozowy 0001 2233 445."),
        ],
    ),
    # --- Resolved and closed: history -------------------------------------------------------------------
    Story(
        "tomasz",
        "webform",
        "4d",
        "Zwrot towaru — kurtka",
        order="SD-10120",
        tags=("zwrot", "wymiana"),
        steps=[
            ("in", 0, "Dzień dobry, chciałbym zwrócić kurtkę — rozmiar L jest za duży. Jak to zrobić?"),
            (
                "reply",
                55,
                "anna",
                "Dzień dobry Panie Tomaszu,\n\nzwrot jest prosty: w ciągu 30 dni od odbioru proszę "
                "wypełnić formularz zwrotu w „Moich zamówieniach”, a etykietę InPost wyślemy "
                "mailem. Pieniądze oddajemy do 5 dni roboczych od przyjęcia paczki.\n\nJeśli woli "
                "Pan wymianę na rozmiar M, wystarczy odpisać — zarezerwuję kurtkę.",
            ),
            ("in", 300, "Poproszę wymianę na M, dziękuję."),
            (
                "reply",
                30,
                "anna",
                "Zarezerwowane — kurtka M wyjedzie do Pana, gdy tylko kurier odbierze L. Etykieta "
                "zwrotna jest już w Pana skrzynce.",
            ),
            ("status", 2880, "anna", "resolved"),
        ],
    ),
    Story(
        "magdalena",
        "webform",
        "6d",
        "Faktura korygująca",
        order="SD-09987",
        tags=("faktura",),
        steps=[
            (
                "in",
                0,
                "Dzień dobry, po częściowym zwrocie zamówienia SD-09987 nie dostałam faktury korygującej. "
                "Potrzebuję jej do rozliczenia w firmie.",
            ),
            (
                "reply",
                120,
                "anna",
                "Dzień dobry Pani Magdaleno,\n\nfaktura korygująca KOR/2025/0412 jest już "
                "wystawiona — wysłałam ją na adres z zamówienia, a PDF jest też do pobrania "
                "w portalu klienta.",
            ),
            ("status", 2900, "anna", "closed"),
        ],
    ),
    Story(
        "emily",
        "email",
        "3d",
        "Order arrived incomplete",
        order="SD-10355",
        tags=("brak-elementu",),
        steps=[
            (
                "in",
                0,
                "Hello,\n\nmy order SD-10355 arrived today but one of the two chairs is missing — the box "
                "says "
                "1/2. Could you check whether the second parcel was sent separately?\n\nEmily",
            ),
            (
                "reply",
                60,
                "anna",
                "Hi Emily,\n\nthank you for letting us know. The second chair left our warehouse a "
                "day later as a separate parcel (tracking 6200 9876 5432) and should reach you "
                "tomorrow. Sorry for the confusion — we will label split shipments more clearly.",
            ),
            ("in", 1400, "It arrived, thanks a lot!"),
            ("status", 20, "anna", "resolved"),
        ],
    ),
    Story(
        "sergey",
        "livechat",
        "1d1h",
        "Чат: доставка в Калининград",
        steps=[
            ("in", 0, "Здравствуйте, вы доставляете в Калининград?"),
            (
                "reply",
                2,
                "olga",
                "Здравствуйте, Сергей! К сожалению, сейчас мы отправляем заказы только по Польше и "
                "странам ЕС. Если у вас есть адрес в Польше или Литве, доставим туда за 2–3 рабочих "
                "дня.",
                KEEP_OPEN,
            ),
            ("in", 3, "Понятно, спасибо. Тогда закажу на адрес брата в Белостоке."),
            ("reply", 1, "olga", "Отлично! Если будут вопросы по заказу — пишите, я на связи."),
            ("status", 10, "olga", "resolved"),
        ],
    ),
    Story(
        "dmitry",
        "webform",
        "2d4h",
        "Фактура на компанию",
        order="SD-10322",
        tags=("faktura",),
        steps=[
            (
                "in",
                0,
                "Добрый день! Нужна фактура VAT на фирму для заказа SD-10322. Реквизиты: Smirnov Trade "
                "Sp. z o.o., NIP 123-456-32-18, Warszawa.",
            ),
            (
                "reply",
                70,
                "olga",
                "Добрый день, Дмитрий!\n\nФактура FV/2025/10322 выставлена на Smirnov Trade "
                "Sp. z o.o. и отправлена вам на почту. Её также можно скачать в личном кабинете.",
            ),
            ("status", 600, "olga", "closed"),
        ],
    ),
    Story(
        "irina",
        "note",
        "3d",
        "Звонок: изменение заказа",
        order="SD-10266",
        logged_by="olga",
        steps=[
            (
                "in",
                0,
                "Клиентка звонила: хочет добавить к заказу SD-10266 второй комплект постельного белья, пока "
                "заказ не отправлен. Добавила, доплата 189 zł по ссылке.",
            ),
            (
                "reply",
                10,
                "olga",
                "Ирина, добрый день!\n\nКак договорились по телефону, я добавила второй комплект "
                "белья к заказу SD-10266. Ссылка на доплату 189 zł пришла вам отдельным письмом.",
                {"channel": "email"},
            ),
            ("in", 900, "Оплатила, спасибо!", {"channel": "email"}),
            ("status", 30, "olga", "closed"),
        ],
    ),
    Story(
        "saldo",
        "note",
        "8d",
        "List: korekta faktury",
        note_kind="letter",
        logged_by="anna",
        tags=("faktura", "korespondencja"),
        steps=[
            (
                "in",
                0,
                "Wpłynął list polecony od Biura Rachunkowego Saldo: proszą o korektę faktury FV/2025/09811 — "
                "błędny NIP nabywcy (jest 525-111-22-33, powinno być 525-111-22-38). Skan w segregatorze "
                "„Korespondencja 2025”.",
            ),
            ("priority", 1, "anna", 0),
            (
                "reply",
                180,
                "anna",
                "Szanowni Państwo,\n\nw odpowiedzi na pismo wystawiliśmy fakturę korygującą "
                "KOR/2025/0398 z poprawnym NIP-em nabywcy. Oryginał wysłaliśmy pocztą, PDF jest "
                "w portalu klienta.",
                {"channel": "email"},
            ),
            ("status", 60, "anna", "closed"),
        ],
    ),
    Story(
        "katarzyna",
        "email",
        "3d",
        "Brak potwierdzenia zamówienia",
        order="SD-10371",
        steps=[
            ("in", 0, "Nie dostałam maila z potwierdzeniem zamówienia SD-10371. Czy zamówienie przeszło?"),
            (
                "reply",
                40,
                "anna",
                "Dzień dobry,\n\nzamówienie SD-10371 jest przyjęte i opłacone. Potwierdzenie "
                "wysłaliśmy na adres z zamówienia — proszę zajrzeć też do folderu Spam.",
                {"failed": "Recipient refused: 550 5.1.1 <k.lewandowska@example.com>: mailbox unavailable"},
            ),
            ("note", 15, "anna", "Mail odbity (550) — pewnie literówka w adresie. Dzwonię do klientki."),
            (
                "call",
                10,
                "anna",
                "out",
                "Dodzwoniłam się: zamówienie potwierdzone telefonicznie, poprawny adres "
                "e-mail klientka poda w panelu konta.",
            ),
            ("status", 2, "anna", "resolved"),
        ],
    ),
    Story(
        "aleksandra",
        "webform",
        "12d",
        "Jaki rozmiar sukienki?",
        steps=[
            (
                "in",
                0,
                "Dzień dobry, jaki rozmiar sukienki Lena wybrać przy 168 cm wzrostu i obwodzie biustu 90 cm?",
            ),
            (
                "reply",
                30,
                "olga",
                "Dzień dobry Pani Aleksandro,\n\nprzy tych wymiarach polecam rozmiar 38 — sukienka "
                "jest szyta dość luźno w talii. Gdyby jednak nie pasowała, wymiana jest bezpłatna.",
            ),
            ("status", 1440, "olga", "closed"),
        ],
    ),
    Story(
        "laura",
        "email",
        "7d",
        "Invoice in English",
        order="SD-09950",
        tags=("faktura",),
        steps=[
            (
                "in",
                0,
                "Hello, could you send me the invoice for order SD-09950 in English? My accountant in Italy "
                "needs it.",
            ),
            (
                "reply",
                90,
                "piotr",
                "Hello Laura,\n\nthe bilingual (Polish/English) invoice is in your customer "
                "portal. Polish law requires the Polish original, and the English part is "
                "accepted by accountants across the EU.",
            ),
            ("status", 4000, "piotr", "resolved"),
        ],
    ),
    Story(
        "alexei",
        "sms",
        "9d",
        "SMS: курьер после 18:00",
        order="SD-09874",
        tags=("dostawa",),
        steps=[
            ("in", 0, "Здравствуйте, курьер может приехать после 18:00? Заказ SD-09874"),
            (
                "reply",
                15,
                "piotr",
                "Dzień dobry / Здравствуйте! Kurier DPD dostarcza do 20:00 — w SMS-ie od DPD "
                "można wybrać inną godzinę lub dzień. Sklep Demo",
            ),
            ("status", 600, "piotr", "resolved"),
        ],
    ),
    Story(
        "grzegorz",
        "note",
        "10d",
        "Telefon: montaż szafy",
        order="SD-09801",
        logged_by="piotr",
        steps=[
            (
                "in",
                0,
                "Klient dzwonił w sprawie montażu szafy z zamówienia SD-09801. Umówiony montaż w przyszły "
                "wtorek o 10:00. Prosi o SMS z przypomnieniem dzień wcześniej.",
            ),
            (
                "reply",
                5,
                "piotr",
                "Przypominamy: montaż szafy we wtorek o 10:00. Ekipa zadzwoni 30 min wcześniej. Sklep Demo",
                {"channel": "sms"},
            ),
            ("status", 4320, "piotr", "closed"),
        ],
    ),
    Story(
        "krzysztof",
        "voice",
        "8d",
        "Rozmowa: przedłużona gwarancja",
        order="SD-09760",
        tags=("gwarancja",),
        meta={"call": "answered", "duration_seconds": 252},
        steps=[
            ("in", 0, "Połączenie przychodzące, 4 min 12 s."),
            (
                "note",
                5,
                "piotr",
                "Klient pytał o przedłużenie gwarancji na zmywarkę z SD-09760. Obiecałem ofertę "
                "pakietu +3 lata mailem.",
            ),
            (
                "reply",
                20,
                "piotr",
                "Dzień dobry Panie Krzysztofie,\n\nzgodnie z rozmową: przedłużona gwarancja na "
                "zmywarkę o 3 lata kosztuje 149 zł i obejmuje naprawy z dojazdem serwisu. Jeśli "
                "Pan chce, dodam ją do zamówienia SD-09760.",
                {"channel": "email"},
            ),
            ("status", 2000, "piotr", "resolved"),
        ],
    ),
    Story(
        "elena",
        "note",
        "4d",
        "Звонок: повреждённая упаковка",
        logged_by="olga",
        tags=("dostawa",),
        steps=[
            (
                "in",
                0,
                "Клиентка звонила: курьер повредил упаковку, но товар цел. Хотела только сообщить. "
                "Предложила "
                "скидку 10% на следующий заказ — согласилась, код отправлен SMS.",
            ),
            ("status", 3, "olga", "resolved"),
        ],
    ),
    Story(
        "lukasz",
        "livechat",
        "2d2h",
        "Czat: lampa i żarówki LED",
        steps=[
            ("in", 0, "Hej, czy lampa Nordic obsługuje żarówki LED ze ściemniaczem?"),
            (
                "reply",
                1,
                "anna",
                "Cześć! Tak — oprawka E27 współpracuje ze ściemnialnymi żarówkami LED do 60 W. "
                "Polecam ciepłą barwę 2700 K.",
                KEEP_OPEN,
            ),
            ("in", 2, "Dzięki, biorę dwie."),
            ("status", 5, "anna", "resolved"),
        ],
    ),
    Story(
        "david",
        "livechat",
        "1h30m",
        "Chat: is the desk lamp in stock?",
        steps=[
            ("in", 0, "Hi, is the Nordic desk lamp in stock? I need it by Friday."),
            (
                "reply",
                2,
                "olga",
                "Hi David! Yes, 14 in stock — orders placed before 14:00 ship the same day, so "
                "Friday is safe.",
                KEEP_OPEN,
            ),
            ("in", 2, "Great, ordering now."),
            ("status", 3, "olga", "resolved"),
        ],
    ),
    Story(
        "emily",
        "webform",
        "30d",
        "Gift wrapping",
        steps=[
            ("in", 0, "Hi, could you gift-wrap my next order and add a small card? It's a birthday present."),
            (
                "reply",
                45,
                "anna",
                "Hi Emily,\n\nof course — gift wrapping is free. Just write the card text in the "
                "order notes and we will handwrite it.",
            ),
            ("status", 1440, "anna", "closed"),
        ],
    ),
    Story(
        "jan",
        "email",
        "20d",
        "Gwarancja odkurzacza",
        steps=[
            ("in", 0, "Czy odkurzacz Cyklon ma 2 lata gwarancji? I czy serwis odbiera sprzęt z domu?"),
            (
                "reply",
                80,
                "anna",
                "Dzień dobry Panie Janie,\n\ntak: 24 miesiące gwarancji producenta, a serwis działa "
                "door-to-door — kurier odbiera i odwozi sprzęt bezpłatnie.",
            ),
            ("status", 1440, "anna", "closed"),
        ],
    ),
    Story(
        "ewa",
        "webform",
        "15d",
        "Zwrot sukienki",
        order="SD-09702",
        tags=("zwrot",),
        steps=[
            ("in", 0, "Chcę zwrócić sukienkę z zamówienia SD-09702, jest za mała."),
            (
                "reply",
                60,
                "piotr",
                "Dzień dobry Pani Ewo,\n\netykieta zwrotna jest już w Pani skrzynce. Pieniądze "
                "oddamy do 5 dni roboczych od przyjęcia paczki.",
            ),
            ("status", 5000, "piotr", "resolved"),
        ],
    ),
    Story(
        "pawel",
        "webform",
        "11d",
        "Kod rabatowy nie działa",
        steps=[
            ("in", 0, "Kod WITAJ10 nie działa w koszyku, pokazuje błąd."),
            (
                "reply",
                35,
                "piotr",
                "Dzień dobry Panie Pawle,\n\nkod WITAJ10 działa przy pierwszym zamówieniu od 200 zł. "
                "W koszyku było 189 zł — po dodaniu czegokolwiek za 11 zł rabat się naliczy.",
            ),
            ("status", 1440, "piotr", "resolved"),
        ],
    ),
    Story(
        "wojciech",
        "sms",
        "6d",
        "SMS: BLIK przy odbiorze?",
        steps=[
            ("in", 0, "Czy przy odbiorze mozna zaplacic BLIKiem?"),
            (
                "reply",
                20,
                "anna",
                "Dzień dobry, kurier przyjmuje kartę i gotówkę; BLIK działa przy płatności "
                "online w sklepie. Anna, Sklep Demo",
            ),
            ("status", 300, "anna", "resolved"),
        ],
    ),
    Story(
        "sophie",
        "email",
        "18d",
        "Custom size curtains",
        steps=[
            ("in", 0, "Hello, do you make the linen curtains in a custom length (260 cm)?"),
            (
                "reply",
                100,
                "olga",
                "Hello Sophie,\n\nyes — custom lengths up to 300 cm take 10 working days and cost "
                "15% more than the standard size. I can send you a quote.",
            ),
            ("status", 2880, "olga", "closed"),
        ],
    ),
    Story(
        "irina",
        "webform",
        "25d",
        "Оплата при получении",
        steps=[
            ("in", 0, "Можно ли оплатить заказ при получении?"),
            (
                "reply",
                40,
                "olga",
                "Ирина, здравствуйте! Да, оплата наложенным платежом доступна при доставке курьером (+9 zł).",
            ),
            ("status", 1440, "olga", "closed"),
        ],
    ),
    Story(
        "barbara",
        "webform",
        "9d",
        "Status zamówienia",
        order="SD-09890",
        tags=("dostawa",),
        steps=[
            ("in", 0, "Dzień dobry, jaki jest status zamówienia SD-09890?"),
            (
                "reply",
                50,
                "piotr",
                "Dzień dobry Pani Barbaro,\n\nzamówienie SD-09890 jest spakowane i jutro rano "
                "odbierze je kurier. Numer przesyłki przyjdzie SMS-em.",
            ),
            ("status", 2000, "piotr", "resolved"),
        ],
    ),
    Story(
        "sergey",
        "email",
        "14d",
        "Счёт за доставку",
        steps=[
            ("in", 0, "Почему за доставку списали 19 zł, если на сайте написано «бесплатно от 199 zł»?"),
            (
                "reply",
                90,
                "olga",
                "Сергей, добрый день!\n\nБесплатная доставка считается после скидки — сумма заказа "
                "со скидкой составила 185 zł. В качестве исключения я вернула вам 19 zł.",
            ),
            ("status", 1440, "olga", "closed"),
        ],
    ),
    Story(
        "zofia",
        "email",
        "40d",
        "Podziękowanie",
        tags=("pochwała",),
        steps=[
            (
                "in",
                0,
                "Chciałam bardzo podziękować za cierpliwość przy zamówieniu telefonicznym. Wszystko doszło!",
            ),
            ("reply", 120, "anna", "Dziękujemy, Pani Zofio! Bardzo nam miło — zapraszamy ponownie."),
            ("status", 60, "anna", "closed"),
        ],
    ),
]
