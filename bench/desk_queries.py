"""Server-side latency of the desk's reads on a seeded database (in-process, a real Agent, no HTTP).

    .venv/bin/python bench/desk_queries.py --data-dir /tmp/opiekun-bench [--samples 200]

Measures the inbox list (several views and filters, 50 rows), the navigation counts, opening one
conversation with its customer timeline, and full-text search (pl/ru/en, common and rare words).
Prints p50/p95/p99 (ms) per operation and whether each meets its target (p95 < 50 ms; search < 100).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_AGENT, emit, measure, setup_django

TARGET_MS = 50.0
SEARCH_TARGET_MS = 100.0


def warm_cache(data_dir: str) -> float:
    """Read the database into memory once, as a server that has been running would have it.

    Without this, the first touch of an old conversation reads the disk (a freshly seeded 2 GB file is
    not all in the page cache), and the figures measure the disk rather than the queries.
    """
    from django.db import connection

    started = time.perf_counter()
    if connection.vendor == "sqlite":
        with open(Path(data_dir) / "opiekun.sqlite3", "rb") as f:
            while f.read(16 << 20):
                pass
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            cursor.execute(
                "SELECT pg_prewarm(c.oid, 'read') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') AND c.relname NOT LIKE 'pg_%'"
            )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated name prefixes to run (default: all)")
    parser.add_argument("--cold", action="store_true", help="do not pre-read the database into memory first")
    args = parser.parse_args(argv)
    setup_django(args.data_dir)

    from django.db import connection
    from django.db.models import Count

    from opiekun.agents.models import Agent
    from opiekun.conversations import selectors
    from opiekun.conversations.models import Conversation, Message
    from opiekun.conversations.search import search_messages

    agent = Agent.objects.select_related("shop").get(user__username=BENCH_AGENT)
    warmed = warm_cache(args.data_dir) if not args.cold else 0.0
    rng = random.Random(args.seed)
    n = args.samples
    results: dict[str, dict] = {}  # type: ignore[type-arg]
    only = [p for p in args.only.split(",") if p]

    def run(name: str, fn, target: float = TARGET_MS) -> None:  # type: ignore[no-untyped-def]
        if only and not any(name.startswith(p) for p in only):
            return
        figures = measure(fn, n)
        figures["target_p95_ms"] = target
        figures["meets_target"] = figures["p95"] < target
        results[name] = figures
        print(
            f"  {name:<48} p50 {figures['p50']:>8.2f}  p95 {figures['p95']:>8.2f}  p99 {figures['p99']:>8.2f} ms",
            file=sys.stderr,
            flush=True,
        )

    team_id = agent.teams.values_list("id", flat=True).first()
    F = selectors.Filters
    lists = {
        "list.mine": F(view="mine"),
        "list.my_customers": F(view="my_customers"),
        "list.unassigned": F(view="unassigned"),
        "list.open": F(view="open"),
        "list.pending_customer": F(view="pending_customer"),
        "list.sla_risk": F(view="sla_risk", sort="sla"),
        "list.resolved": F(view="resolved"),
        "list.all": F(view="all"),
        "list.team": F(view="open", team_id=team_id),
        "list.open+channel=email": F(view="open", channel="email"),
        "list.open+priority=high": F(view="open", priority=2),
        "list.open+tag=reklamacja": F(view="open", tag="reklamacja"),
        "list.all+status=pending_internal": F(view="all", status="pending_internal"),
        "list.mine+sort=oldest": F(view="mine", sort="oldest"),
        "list.open+q=#number": None,  # filled below with a real case number
    }
    some_number = (
        Conversation.objects.filter(shop_id=agent.shop_id)
        .order_by("-id")
        .values_list("number", flat=True)
        .first()
    )
    lists["list.open+q=#number"] = F(view="all", q=f"#{some_number}")
    for name, filters in lists.items():
        run(name, lambda f=filters: selectors.conversation_list(agent=agent, filters=f, limit=50))
    # Page 3 of the open view (offset pagination).
    run(
        "list.open.page3",
        lambda: selectors.conversation_list(agent=agent, filters=F(view="open"), limit=50, offset=100),
    )

    run("counts.shop_counts", lambda: selectors.shop_counts(shop_id=agent.shop_id))
    run("counts.view_counts", lambda: selectors.view_counts(agent=agent))
    if "cached" in selectors.view_counts.__code__.co_varnames:
        # What a per-request reader pays once the fan-out (or a first reader) has counted.
        run("counts.view_counts(cached)", lambda: selectors.view_counts(agent=agent, cached=True))

    # Opening a conversation: mostly recent (open) ones, some old; the customer's timeline with it.
    top = (
        Conversation.objects.filter(shop_id=agent.shop_id)
        .order_by("-number")
        .values_list("number", flat=True)[0]
    )
    recent_cut = max(1, top - 20_000)

    def pick_number() -> int:
        return rng.randint(recent_cut, top) if rng.random() < 0.7 else rng.randint(1, top)

    def open_one() -> None:
        conversation = selectors.access_conversation(agent=agent, number=pick_number())
        selectors.conversation_messages(conversation=conversation)
        selectors.contact_timeline(shop_id=agent.shop_id, contact_id=conversation.contact_id)
        selectors.contact_conversations(shop_id=agent.shop_id, contact_id=conversation.contact_id)

    run("open.conversation+timeline", open_one)
    run("open.access_conversation", lambda: selectors.access_conversation(agent=agent, number=pick_number()))
    sample = [selectors.access_conversation(agent=agent, number=pick_number()) for _ in range(50)]
    run(
        "open.conversation_messages", lambda: selectors.conversation_messages(conversation=rng.choice(sample))
    )
    if hasattr(selectors, "conversation_thread"):
        run(
            "open.conversation_thread", lambda: selectors.conversation_thread(conversation=rng.choice(sample))
        )
    run(
        "open.contact_timeline",
        lambda: selectors.contact_timeline(shop_id=agent.shop_id, contact_id=rng.choice(sample).contact_id),
    )
    run(
        "open.contact_conversations",
        lambda: selectors.contact_conversations(
            shop_id=agent.shop_id, contact_id=rng.choice(sample).contact_id
        ),
    )
    # The heaviest customer (most conversations): the timeline's worst case.
    heavy = (
        Conversation.objects.filter(shop_id=agent.shop_id)
        .values("contact_id")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if heavy:
        run(
            "open.contact_timeline(heaviest customer)",
            lambda: selectors.contact_timeline(shop_id=agent.shop_id, contact_id=heavy["contact_id"]),
        )

    # Search: common and rare words in each language, a two-word query, a prefix, an order number.
    from textgen import PRODUCTS

    number_text = (
        Message.objects.filter(shop_id=agent.shop_id, direction="out", is_internal=False)
        .order_by("-id")
        .values_list("text", flat=True)
        .first()
        or ""
    )
    order_number = next(
        (w for w in number_text.replace(".", " ").split() if w.isdigit() and len(w) >= 6), "1234567"
    )
    rare_products = PRODUCTS[-40:]
    queries = {
        "search.pl.common(paczka)": ["paczka", "paczki", "zamówienie", "przesyłkę", "faktury", "zwrotu"],
        "search.pl.two_words": [
            "paczka uszkodzona",
            "zwrot pieniędzy",
            "faktura zamówienie",
            "kurier sąsiada",
        ],
        "search.pl.rare(hulajnoga)": ["hulajnogą", "ekspresem kawy", "materacu", "subskrypcji"],
        "search.pl.prefix(rekla)": ["rekla", "przesył", "gwaran", "pacz", "zamó"],
        "search.ru.common(посылка)": ["посылку", "заказа", "доставки", "возврат"],
        "search.ru.rare": ["самокатом", "подписку", "матрасе"],
        "search.en.common(orders)": ["orders", "parcel", "refunds", "delivery"],
        "search.en.rare": ["scooters", "mattress", "subscription"],
        "search.product_name(rare)": [p.lower() for p in rare_products],
        "search.order_number(unique)": [order_number],
        "search.no_match": ["qwertyuiopasdf", "zzzzzxxxxx"],
    }
    for name, words in queries.items():
        run(
            name,
            lambda ws=words: search_messages(shop_id=agent.shop_id, query=rng.choice(ws), limit=50),
            SEARCH_TARGET_MS,
        )
    run(
        "search.pl.common.public_only",
        lambda: search_messages(
            shop_id=agent.shop_id, query=rng.choice(["paczka", "faktura"]), include_internal=False
        ),
        SEARCH_TARGET_MS,
    )

    counts = {
        "conversations": Conversation.objects.count(),
        "messages": Message.objects.count(),
        "open_conversations": Conversation.objects.filter(
            status__in=("new", "open", "pending_customer", "pending_internal")
        ).count(),
        "bench_shop_conversations": Conversation.objects.filter(shop_id=agent.shop_id).count(),
        "bench_agent_mine": selectors.view_counts(agent=agent).mine,
    }
    misses = sorted(k for k, v in results.items() if not v["meets_target"])
    out = {
        "benchmark": "desk_queries",
        "database": connection.vendor,
        "samples": n,
        "rows": counts,
        "results_ms": results,
        "misses": misses,
        "all_meet_target": not misses,
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "cache": "cold" if args.cold else f"warm (database pre-read in {warmed:.1f} s)",
    }
    emit(out)
    return out


if __name__ == "__main__":
    main()
