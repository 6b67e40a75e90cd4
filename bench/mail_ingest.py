"""E-mail ingest throughput of the whole pipeline, printed as JSON.

    .venv/bin/python bench/mail_ingest.py                      # SQLite, 10,000 messages, corpus mix + plain
    DATABASE_URL=postgresql://… .venv/bin/python bench/mail_ingest.py   # the same on PostgreSQL (empty DB)

Each message goes the way a fetched mail goes: raw bytes stored durably first (fsynced file + row),
then parsed, de-duplicated, threaded, attachments stored and the text indexed for search — through
`mailstore.mail_ingest_stream`, which group-commits batches after the raw bytes are safe.

The mix (10,000 by default): a third new mails (corpus files replayed with fresh Message-IDs and
senders), a third re-deliveries (identical bytes, or the same bytes with an extra Received header:
each must come out `duplicate`), and a third replies that must thread (In-Reply-To/References naming
an earlier mail). The same again with plain-text mail only. Reported: messages/s, p50/p99 per
message (and p99 of messages without attachments, which excludes attachment decoding), peak RSS,
duplicate conversations (must be 0), a 25 MB attachment's ingest time and memory, and how a
pathological message (thousands of links, deeply nested MIME) is cut off and quarantined.

Without ../shared/corpus (a user's clone) the corpus mix falls back to the project's own fixtures.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from email.utils import make_msgid
from pathlib import Path

from common import ROOT, database_label, emit, percentiles, setup_django

CORPUS_DIRS = {
    "zammad": ("*.box",),
    "chatwoot": ("*.eml",),
    "django-helpdesk": ("*.eml",),
    "spamscope-mail-parser": ("mail_*",),
    "cpython-test_email": ("msg_*.txt",),
    "talon": ("*.eml",),
}


def corpus_root() -> Path | None:
    env = os.environ.get("OPIEKUN_CORPUS")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "corpus"]:
        if candidate.is_dir():
            return candidate
    return None


def corpus_mails() -> tuple[list[bytes], str]:
    root = corpus_root()
    found: list[bytes] = []
    if root is not None:
        for folder, patterns in CORPUS_DIRS.items():
            for pattern in patterns:
                found += [p.read_bytes() for p in sorted((root / folder).rglob(pattern)) if p.is_file()]
        return found, str(root)
    fixtures = ROOT / "src" / "opiekun" / "inboxes" / "drivers" / "email" / "tests" / "fixtures"
    found = [p.read_bytes() for p in sorted(fixtures.rglob("*.eml"))]
    return found, f"(no corpus) {fixtures}"


def plain_mail(i: int) -> bytes:
    lang = i % 3
    body = (
        "Dzień dobry, kiedy wyślecie moje zamówienie nr {n}? Pozdrawiam",
        "Здравствуйте, когда будет отправлен мой заказ {n}? Спасибо",
        "Hello, when will my order {n} ship? Thanks",
    )[lang].format(n=10_000 + i)
    return (
        f"From: Customer {i} <customer{i}@example.org>\r\n"
        f"To: support@sklep.test\r\n"
        f"Subject: Order {10_000 + i}\r\n"
        f"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
        f"Message-ID: <plain.{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def _header_end(raw: bytes) -> int:
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at != -1:
            return at
    return len(raw)


def fresh_copy(raw: bytes, i: int) -> tuple[bytes, str]:
    """The mail as a new, distinct message: its own Message-ID and sender (so it opens its own case)."""
    end = _header_end(raw)
    head, body = raw[:end], raw[end:]
    nl = b"\r\n" if b"\r\n" in head[:2000] else b"\n"
    kept = []
    skip = False
    for line in head.split(nl):
        if line[:1] in (b" ", b"\t") and skip:
            continue
        name = line.split(b":", 1)[0].strip().lower()
        skip = name in (b"message-id", b"from", b"in-reply-to", b"references", b"reply-to", b"sender")
        if not skip:
            kept.append(line)
    message_id = f"bench.{i}.{random.getrandbits(40):x}@example.org"
    extra = [f"Message-ID: <{message_id}>".encode(), f"From: Sender {i} <sender{i}@example.org>".encode()]
    return nl.join(extra + kept) + body, message_id


def reply_to(message_id: str, i: int, sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@sklep.test\r\nSubject: Re: your question\r\n"
        f"Message-ID: <reply.{i}.{random.getrandbits(40):x}@example.org>\r\n"
        f"In-Reply-To: <{message_id}>\r\nReferences: <{message_id}>\r\n"
        "Date: Tue, 01 Dec 2026 11:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Thank you, one more question.\r\n\r\nOn Tue, 1 Dec 2026 at 10:00, Sklep wrote:\r\n> earlier text\r\n"
    ).encode()


def build_mix(originals: list[bytes], total: int, *, plain: bool) -> Iterator[tuple[str, bytes, int]]:
    """(kind, raw, original index) in arrival order, made as they are consumed (memory stays flat):
    each new mail is followed by a re-delivery (identical bytes, or with an extra Received header)
    and a reply that must thread — a third each."""
    third = total // 3
    for i in range(total - 2 * third):
        if plain:
            raw, mid, sender = (
                plain_mail(i),
                f"plain.{i}@example.org",
                f"Customer {i} <customer{i}@example.org>",
            )
        else:
            raw, mid = fresh_copy(originals[i % len(originals)], i)
            sender = f"Sender {i} <sender{i}@example.org>"
        yield "new", raw, i
        if i < third:
            again = (
                raw if i % 2 else b"Received: from relay.example.org by mx.sklep.test; redelivery\r\n" + raw
            )
            yield "redelivery", again, i
            yield "reply", reply_to(mid, i, sender), i


def ingest(inbox, mix: Iterator[tuple[str, bytes, int]], batch: int | None) -> dict:  # type: ignore[no-untyped-def]
    from opiekun.conversations.models import Conversation
    from opiekun.inboxes.mailstore import mail_ingest_stream

    before = Conversation.objects.filter(shop=inbox.shop).count()
    per_message: list[float] = []
    no_attachments: list[float] = []
    outcomes: dict[str, dict[str, int]] = {}
    kinds: list[tuple[str, int]] = []
    created_originals: set[int] = set()
    redeliveries_wrong = replies_wrong = 0

    def raws() -> Iterator[bytes]:
        for kind, raw, index in mix:
            kinds.append((kind, index))
            yield raw

    started = time.perf_counter()
    extra = {"batch": batch} if batch else {}
    for position, result in enumerate(mail_ingest_stream(inbox=inbox, raws=raws(), source="file", **extra)):
        kind, index = kinds[position]
        per_message.append(result.seconds * 1000)
        if not result.attachments:
            no_attachments.append(result.seconds * 1000)
        bucket = outcomes.setdefault(kind, {})
        bucket[result.outcome] = bucket.get(result.outcome, 0) + 1
        # A re-delivery of a mail that was stored must be a duplicate; a reply to a mail that opened
        # a case must join it. (Bounces, auto-replies and quarantined originals open no case.)
        if kind == "new" and result.outcome == "created":
            created_originals.add(index)
        elif kind == "redelivery" and index in created_originals and result.outcome != "duplicate":
            redeliveries_wrong += 1
        elif kind == "reply" and index in created_originals and result.outcome != "appended":
            replies_wrong += 1
    elapsed = time.perf_counter() - started
    created = Conversation.objects.filter(shop=inbox.shop).count() - before
    new_count = sum(1 for kind, _ in kinds if kind == "new")
    return {
        "messages": len(kinds),
        "seconds": round(elapsed, 2),
        "messages_per_s": round(len(kinds) / elapsed, 1),
        "per_message_ms": percentiles(per_message),
        "per_message_without_attachments_ms": percentiles(no_attachments),
        "outcomes": outcomes,
        "conversations_created": created,
        "duplicate_conversations": max(0, created - new_count),
        "redeliveries_of_stored_mail_not_duplicate": redeliveries_wrong,
        "replies_to_cases_not_threaded": replies_wrong,
    }


def big_attachment(inbox) -> dict:  # type: ignore[no-untyped-def]
    import base64

    from opiekun.inboxes.mailstore import mail_ingest

    payload = os.urandom(25 * 1024 * 1024)
    encoded = base64.encodebytes(payload)
    raw = (
        b"From: Big <big@example.org>\r\nTo: support@sklep.test\r\nSubject: scan\r\n"
        + f"Message-ID: {make_msgid(domain='example.org')}\r\n".encode()
        + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n"
        b"Content-Type: text/plain\r\n\r\nThe scan.\r\n--XX\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="scan.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + encoded
        + b"\r\n--XX--\r\n"
    )
    del encoded
    rss_before = _rss_mb()
    started = time.perf_counter()
    result = mail_ingest(inbox=inbox, raw=raw, source="file")
    return {
        "size_mb": round(len(raw) / 1e6, 1),
        "outcome": result.outcome,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb_after": _rss_mb(),
    }


def pathological(inbox) -> dict:  # type: ignore[no-untyped-def]
    from opiekun.inboxes.mailstore import mail_ingest

    links = "".join(f'<a href="http://example.org/{i}">link {i}</a> ' for i in range(200_000))
    nested = b""
    for depth in range(200):
        nested = (
            f"Content-Type: multipart/mixed; boundary=b{depth}\r\n\r\n--b{depth}\r\n".encode()
            + (nested or b"Content-Type: text/plain\r\n\r\ndeep\r\n")
            + f"\r\n--b{depth}--\r\n".encode()
        )
    cases = {
        "many_links": b"From: x@example.org\r\nTo: support@sklep.test\r\nSubject: links\r\n"
        b"Content-Type: text/html\r\n\r\n" + links.encode(),
        "deep_mime": b"From: y@example.org\r\nTo: support@sklep.test\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
        + nested,
    }
    out = {}
    for name, raw in cases.items():
        started = time.perf_counter()
        result = mail_ingest(inbox=inbox, raw=raw, source="file")
        out[name] = {
            "outcome": result.outcome,
            "reason": result.reason[:120],
            "seconds": round(time.perf_counter() - started, 2),
        }
    return out


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, help="mails per batch (default: the product's)")
    parser.add_argument("--data-dir", help="an empty folder (default: a temporary one)")
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="opiekun-mailbench-")
    setup_django(data_dir)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from opiekun.inboxes.models import Inbox
    from opiekun.shops.models import Shop

    random.seed(7)
    originals, source = corpus_mails()
    shop = Shop.objects.create(slug=f"bench-{random.getrandbits(24):x}", name="Bench")
    results: dict = {"database": database_label(), "corpus": source, "corpus_files": len(originals)}
    for label, plain in (("corpus_mix", False), ("plain_text", True)):
        inbox = Inbox.objects.create(
            shop=shop,
            kind="email",
            name=label,
            config={"address": "support@sklep.test", "send_acknowledgment": False},
        )
        mix = build_mix(originals, args.messages, plain=plain)
        results[label] = ingest(inbox, mix, args.batch)
    results["peak_rss_mb"] = _rss_mb()
    big_inbox = Inbox.objects.create(
        shop=shop, kind="email", name="big", config={"address": "big@sklep.test"}
    )
    results["attachment_25mb"] = big_attachment(big_inbox)
    results["pathological"] = pathological(big_inbox)
    results["peak_rss_mb_total"] = _rss_mb()
    emit(results)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
