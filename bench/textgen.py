# ruff: noqa: RUF001 — Russian word lists are Cyrillic on purpose
"""Realistic-looking customer-care messages in Polish, Russian and English, fast and reproducible.

Sentences are built from templates whose noun slots take the grammatical case the sentence needs
(Polish/Russian nominative, genitive, accusative, instrumental, locative; English singular/plural),
so the search index sees real inflection: "paczka", "paczki", "paczkę", "paczką", "paczce". Common
care words appear often, product names (made-up brand words) rarely, order numbers once or twice:
the search benchmark needs common, rare and unique terms.
"""

from __future__ import annotations

import random

# noun: nom, gen, acc, inst, loc
PL_NOUNS = [
    ("paczka", "paczki", "paczkę", "paczką", "paczce"),
    ("zamówienie", "zamówienia", "zamówienie", "zamówieniem", "zamówieniu"),
    ("przesyłka", "przesyłki", "przesyłkę", "przesyłką", "przesyłce"),
    ("faktura", "faktury", "fakturę", "fakturą", "fakturze"),
    ("zwrot", "zwrotu", "zwrot", "zwrotem", "zwrocie"),
    ("reklamacja", "reklamacji", "reklamację", "reklamacją", "reklamacji"),
    ("dostawa", "dostawy", "dostawę", "dostawą", "dostawie"),
    ("płatność", "płatności", "płatność", "płatnością", "płatności"),
    ("produkt", "produktu", "produkt", "produktem", "produkcie"),
    ("kurtka", "kurtki", "kurtkę", "kurtką", "kurtce"),
    ("sukienka", "sukienki", "sukienkę", "sukienką", "sukience"),
    ("ładowarka", "ładowarki", "ładowarkę", "ładowarką", "ładowarce"),
    ("słuchawki", "słuchawek", "słuchawki", "słuchawkami", "słuchawkach"),
    ("buty", "butów", "buty", "butami", "butach"),
    ("telefon", "telefonu", "telefon", "telefonem", "telefonie"),
    ("rozmiar", "rozmiaru", "rozmiar", "rozmiarem", "rozmiarze"),
    ("adres", "adresu", "adres", "adresem", "adresie"),
    ("kod rabatowy", "kodu rabatowego", "kod rabatowy", "kodem rabatowym", "kodzie rabatowym"),
    ("konto", "konta", "konto", "kontem", "koncie"),
    ("gwarancja", "gwarancji", "gwarancję", "gwarancją", "gwarancji"),
    ("paragon", "paragonu", "paragon", "paragonem", "paragonie"),
    ("kurier", "kuriera", "kuriera", "kurierem", "kurierze"),
    ("paczkomat", "paczkomatu", "paczkomat", "paczkomatem", "paczkomacie"),
    ("pralka", "pralki", "pralkę", "pralką", "pralce"),
    ("odkurzacz", "odkurzacza", "odkurzacz", "odkurzaczem", "odkurzaczu"),
    ("materac", "materaca", "materac", "materacem", "materacu"),
    ("lampa", "lampy", "lampę", "lampą", "lampie"),
    ("hulajnoga", "hulajnogi", "hulajnogę", "hulajnogą", "hulajnodze"),
    ("ekspres do kawy", "ekspresu do kawy", "ekspres do kawy", "ekspresem do kawy", "ekspresie do kawy"),
    ("subskrypcja", "subskrypcji", "subskrypcję", "subskrypcją", "subskrypcji"),
]
PL_TEMPLATES = [
    "Gdzie jest moja {nom}?",
    "Nie dostałem jeszcze {gen}, a minął już tydzień.",
    "Kurier zostawił {acc} u sąsiada i nikt mi nic nie powiedział.",
    "Mam problem z {inst} z ostatniego zamówienia.",
    "Proszę o informację o {loc} numer {num}.",
    "Chciałabym zwrócić {acc}, bo nie pasuje.",
    "Czy mogę wymienić {acc} na inny model?",
    "Dostałam {acc} uszkodzoną w transporcie.",
    "Brakuje {gen} w paczce, którą odebrałem wczoraj.",
    "Kiedy wyślecie {acc}? Zamówienie {num} jest opłacone.",
    "Zapłaciłem za {acc}, ale status się nie zmienił.",
    "Czy {nom} jest jeszcze dostępna w sklepie stacjonarnym?",
    "Wysłałem wam zdjęcia {gen} mailem.",
    "Co z moją reklamacją dotyczącą {gen}?",
    "Proszę o fakturę za {acc} na firmę.",
    "Zamawiałam {acc} model {product}, a przyszedł inny.",
    "Czy {product} pasuje do mojego modelu?",
]
PL_REPLIES = [
    "Dzień dobry, sprawdziliśmy {acc} i wszystko jest w porządku.",
    "Przepraszamy za kłopot z {inst}, wysłaliśmy nową.",
    "Zwrot za {acc} został zlecony, pieniądze wrócą w ciągu 3 dni.",
    "Numer śledzenia przesyłki to {num}.",
    "Przekazaliśmy sprawę {gen} do magazynu.",
    "Faktura za {acc} jest w załączniku.",
    "Kurier odbierze {acc} jutro między 9 a 17.",
    "Dziękujemy za cierpliwość, {nom} jest już w drodze.",
]
PL_NOTES = [
    "Magazyn potwierdza brak {gen} na stanie.",
    "Klient dzwonił w sprawie {gen}, oddzwonić po 15.",
    "Księgowość wystawi korektę faktury.",
    "Sprawdzić u przewoźnika status {gen} {num}.",
]
PL_OPEN = ["Dzień dobry,", "Witam,", "Dobry wieczór,", "Cześć,", ""]
PL_CLOSE = ["Pozdrawiam", "Z góry dziękuję", "Proszę o szybką odpowiedź", "Dziękuję", ""]

RU_NOUNS = [
    ("посылка", "посылки", "посылку", "посылкой", "посылке"),
    ("заказ", "заказа", "заказ", "заказом", "заказе"),
    ("доставка", "доставки", "доставку", "доставкой", "доставке"),
    ("возврат", "возврата", "возврат", "возвратом", "возврате"),
    ("счёт", "счёта", "счёт", "счётом", "счёте"),
    ("оплата", "оплаты", "оплату", "оплатой", "оплате"),
    ("курьер", "курьера", "курьера", "курьером", "курьере"),
    ("товар", "товара", "товар", "товаром", "товаре"),
    ("куртка", "куртки", "куртку", "курткой", "куртке"),
    ("платье", "платья", "платье", "платьем", "платье"),
    ("зарядка", "зарядки", "зарядку", "зарядкой", "зарядке"),
    ("наушники", "наушников", "наушники", "наушниками", "наушниках"),
    ("телефон", "телефона", "телефон", "телефоном", "телефоне"),
    ("размер", "размера", "размер", "размером", "размере"),
    ("адрес", "адреса", "адрес", "адресом", "адресе"),
    ("скидка", "скидки", "скидку", "скидкой", "скидке"),
    ("гарантия", "гарантии", "гарантию", "гарантией", "гарантии"),
    ("чек", "чека", "чек", "чеком", "чеке"),
    (
        "стиральная машина",
        "стиральной машины",
        "стиральную машину",
        "стиральной машиной",
        "стиральной машине",
    ),
    ("пылесос", "пылесоса", "пылесос", "пылесосом", "пылесосе"),
    ("матрас", "матраса", "матрас", "матрасом", "матрасе"),
    ("лампа", "лампы", "лампу", "лампой", "лампе"),
    ("самокат", "самоката", "самокат", "самокатом", "самокате"),
    ("подписка", "подписки", "подписку", "подпиской", "подписке"),
]
RU_TEMPLATES = [
    "Где моя {nom}?",
    "Я до сих пор не получил {acc}, прошла уже неделя.",
    "Курьер не привёз {acc} в назначенное время.",
    "У меня проблема с {inst} из последнего заказа.",
    "Прошу сообщить информацию о {loc} номер {num}.",
    "Хочу оформить возврат, {nom} не подошла.",
    "Можно ли обменять {acc} на другую модель?",
    "Получила {acc} повреждённой.",
    "Нет {gen} в коробке, которую я получил вчера.",
    "Когда отправите {acc}? Заказ {num} оплачен.",
    "Я оплатил {acc}, но статус не изменился.",
    "Отправил вам фотографии {gen} по почте.",
    "Что с моей претензией по поводу {gen}?",
    "Заказывала {acc} модели {product}, а пришла другая.",
    "Подходит ли {product} к моей модели?",
]
RU_REPLIES = [
    "Здравствуйте, мы проверили {acc}, всё в порядке.",
    "Извините за проблему с {inst}, мы отправили новую.",
    "Возврат за {acc} оформлен, деньги вернутся в течение 3 дней.",
    "Номер отслеживания: {num}.",
    "Передали вопрос о {loc} на склад.",
    "Курьер заберёт {acc} завтра с 9 до 17.",
]
RU_NOTES = [
    "Склад подтверждает отсутствие {gen}.",
    "Клиент звонил по поводу {gen}, перезвонить после 15.",
    "Проверить у перевозчика статус {gen} {num}.",
]
RU_OPEN = ["Здравствуйте,", "Добрый день,", "Привет,", ""]
RU_CLOSE = ["Спасибо", "С уважением", "Жду ответа", ""]

# noun: singular, plural
EN_NOUNS = [
    ("order", "orders"),
    ("parcel", "parcels"),
    ("package", "packages"),
    ("refund", "refunds"),
    ("invoice", "invoices"),
    ("delivery", "deliveries"),
    ("payment", "payments"),
    ("return", "returns"),
    ("item", "items"),
    ("jacket", "jackets"),
    ("dress", "dresses"),
    ("charger", "chargers"),
    ("headphone", "headphones"),
    ("shoe", "shoes"),
    ("phone", "phones"),
    ("size", "sizes"),
    ("address", "addresses"),
    ("discount code", "discount codes"),
    ("account", "accounts"),
    ("warranty", "warranties"),
    ("receipt", "receipts"),
    ("courier", "couriers"),
    ("washing machine", "washing machines"),
    ("vacuum cleaner", "vacuum cleaners"),
    ("mattress", "mattresses"),
    ("lamp", "lamps"),
    ("scooter", "scooters"),
    ("subscription", "subscriptions"),
]
EN_TEMPLATES = [
    "Where is my {sg}?",
    "I still have not received my {pl}, it has been a week.",
    "The courier left the {sg} with a neighbour.",
    "I have a problem with the {sg} from my last order.",
    "Could you check the status of {sg} number {num}?",
    "I would like to return the {sg}, it does not fit.",
    "Two of the {pl} arrived damaged.",
    "When will you ship the {pl}? Order {num} is paid.",
    "I paid for the {sg} but the status did not change.",
    "I sent you photos of the damaged {pl} by e-mail.",
    "I ordered the {product} {sg} but received a different one.",
    "Does the {product} fit my model?",
    "I was charged twice for my {pl}.",
]
EN_REPLIES = [
    "Hello, we checked your {sg} and everything is fine.",
    "Sorry about the trouble with the {sg}, we have shipped a new one.",
    "Your refund for the {pl} has been issued and should arrive within 3 days.",
    "The tracking number is {num}.",
    "We have passed your question about the {sg} to the warehouse.",
    "The courier will collect the {sg} tomorrow between 9 and 5.",
]
EN_NOTES = [
    "Warehouse confirms the {pl} are out of stock.",
    "Customer called about the {sg}, call back after 3pm.",
    "Check the carrier status of {sg} {num}.",
]
EN_OPEN = ["Hi,", "Hello,", "Good morning,", "Dear support,", ""]
EN_CLOSE = ["Thanks", "Kind regards", "Best", "Cheers", ""]

SUBJECTS = {
    "pl": [
        "Pytanie o zamówienie",
        "Reklamacja",
        "Zwrot towaru",
        "Brak przesyłki",
        "Faktura",
        "Zmiana adresu",
        "Uszkodzona paczka",
        "Płatność",
        "Wymiana rozmiaru",
        "Gwarancja",
    ],
    "ru": [
        "Вопрос по заказу",
        "Претензия",
        "Возврат товара",
        "Нет посылки",
        "Счёт",
        "Смена адреса",
        "Повреждённая посылка",
        "Оплата",
        "Обмен размера",
        "Гарантия",
    ],
    "en": [
        "Question about my order",
        "Complaint",
        "Return",
        "Missing parcel",
        "Invoice",
        "Change of address",
        "Damaged package",
        "Payment",
        "Size exchange",
        "Warranty",
    ],
}

FIRST_NAMES = {
    "pl": [
        "Anna",
        "Piotr",
        "Katarzyna",
        "Tomasz",
        "Magdalena",
        "Marcin",
        "Agnieszka",
        "Paweł",
        "Joanna",
        "Michał",
        "Ewa",
        "Krzysztof",
        "Monika",
        "Jakub",
        "Aleksandra",
        "Łukasz",
        "Zofia",
        "Grzegorz",
        "Natalia",
        "Wojciech",
    ],
    "ru": ["Ольга", "Иван", "Мария", "Алексей", "Елена", "Дмитрий", "Наталья", "Сергей", "Анна", "Андрей"],
    "en": ["Emma", "James", "Olivia", "Jack", "Sophie", "Harry", "Chloe", "George", "Lucy", "Thomas"],
}
LAST_NAMES = {
    "pl": [
        "Nowak",
        "Kowalski",
        "Wiśniewska",
        "Wójcik",
        "Kowalczyk",
        "Kamińska",
        "Lewandowski",
        "Zielińska",
        "Szymański",
        "Woźniak",
        "Dąbrowski",
        "Kozłowska",
        "Jankowski",
        "Mazur",
        "Kwiatkowska",
        "Krawczyk",
    ],
    "ru": ["Иванова", "Смирнов", "Кузнецова", "Попов", "Васильева", "Петров", "Соколова", "Михайлов"],
    "en": [
        "Smith",
        "Jones",
        "Taylor",
        "Brown",
        "Williams",
        "Wilson",
        "Johnson",
        "Davies",
        "Robinson",
        "Wright",
    ],
}

_SYLLABLES = [
    "ka",
    "lo",
    "rex",
    "vin",
    "do",
    "mat",
    "zen",
    "tor",
    "pix",
    "na",
    "vo",
    "lux",
    "tri",
    "gal",
    "mo",
    "sta",
    "qu",
    "el",
    "ar",
    "bo",
    "fi",
    "ne",
    "xo",
    "ra",
]


def product_names(count: int, seed: int = 7) -> list[str]:
    """Made-up brand words ("Vinmatrex"): each is rare in the corpus, which is what rare-term search needs."""
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 4))).capitalize())
    return sorted(names)


PRODUCTS = product_names(3000)


class Writer:
    """Generates subjects, customer messages, agent replies and internal notes in one language.

    With `terms_of` (a cached text → search terms function) the writer also collects the search
    terms of what it wrote, fragment by fragment: every slot sits between non-letters, so the terms
    of a message are exactly the union of its fragments' terms, and the fragments repeat (only the
    order number differs), so the lemmatiser runs once per distinct fragment instead of per message.
    """

    def __init__(self, language: str, rng: random.Random, terms_of=None) -> None:  # type: ignore[no-untyped-def]
        self.language = language
        self.rng = rng
        self.terms_of = terms_of
        self.collected: set[str] = set()

    def take_terms(self) -> set[str]:
        terms, self.collected = self.collected, set()
        return terms

    def _collect(self, fragment: str) -> None:
        if self.terms_of is not None and fragment:
            self.collected |= self.terms_of(fragment)

    def _zipf(self, items: list) -> object:  # type: ignore[type-arg]
        # Early items are the everyday words; the tail is rarer (roughly Zipf-like).
        n = len(items)
        return items[min(n - 1, int(n * self.rng.random() ** 2.2))]

    def _num(self) -> str:
        return str(self.rng.randint(100_000, 9_999_999))

    def _fill(self, template: str) -> str:
        rng = self.rng
        product = PRODUCTS[min(len(PRODUCTS) - 1, int(len(PRODUCTS) * rng.random() ** 1.5))]
        num = self._num()
        if self.language == "en":
            sg, pl = self._zipf(EN_NOUNS)  # type: ignore[misc]
            values = {"sg": sg, "pl": pl, "product": product}
        else:
            nom, gen, acc, inst, loc = self._zipf(PL_NOUNS if self.language == "pl" else RU_NOUNS)  # type: ignore[misc]
            values = {"nom": nom, "gen": gen, "acc": acc, "inst": inst, "loc": loc, "product": product}
        if self.terms_of is not None:
            self._collect(template.format(num="", **values))
            if "{num}" in template:
                self._collect(num)
        return template.format(num=num, **values)

    def subject(self) -> str:
        return self.rng.choice(SUBJECTS[self.language])

    def name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES[self.language])} {self.rng.choice(LAST_NAMES[self.language])}"

    def customer(self) -> str:
        rng = self.rng
        lang = self.language
        templates = {"pl": PL_TEMPLATES, "ru": RU_TEMPLATES, "en": EN_TEMPLATES}[lang]
        opening = rng.choice({"pl": PL_OPEN, "ru": RU_OPEN, "en": EN_OPEN}[lang])
        closing = rng.choice({"pl": PL_CLOSE, "ru": RU_CLOSE, "en": EN_CLOSE}[lang])
        self._collect(opening)
        self._collect(closing)
        body = " ".join(self._fill(rng.choice(templates)) for _ in range(rng.randint(1, 3)))
        return " ".join(p for p in (opening, body, closing) if p)

    def reply(self) -> str:
        templates = {"pl": PL_REPLIES, "ru": RU_REPLIES, "en": EN_REPLIES}[self.language]
        return " ".join(self._fill(self.rng.choice(templates)) for _ in range(self.rng.randint(1, 2)))

    def note(self) -> str:
        return self._fill(self.rng.choice({"pl": PL_NOTES, "ru": RU_NOTES, "en": EN_NOTES}[self.language]))
