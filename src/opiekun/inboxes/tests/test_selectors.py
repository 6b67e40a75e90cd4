"""Reads on inboxes and received mail: shop scoping, health figures, the quarantine page, raw source."""

from __future__ import annotations

import datetime as dt

import pytest

from opiekun.core import clock
from opiekun.core.errors import NotFound
from opiekun.inboxes import mailstore, selectors
from opiekun.inboxes.models import Inbox, RawMail
from opiekun.testing import factories

NO_SENDER = b"From: Nobody\r\nTo: support@sklep.test\r\nSubject: =?utf-8?q?Zam=C3=B3wienie?=\r\n\r\nHello\r\n"
GOOD = b"From: Jan <jan@example.org>\r\nTo: support@sklep.test\r\nSubject: Parcel\r\n\r\nWhere is it?\r\n"


@pytest.fixture
def mailbox(shop) -> Inbox:  # type: ignore[no-untyped-def]
    return factories.InboxFactory(
        shop=shop,
        kind="email",
        name="Support",
        config={
            "address": "support@sklep.test",
            "aliases": ["info@sklep.test"],
            "imap_host": "imap.sklep.test",
        },
    )


def _ingest(inbox: Inbox, raw: bytes) -> RawMail:
    return RawMail.objects.get(pk=mailstore.mail_ingest(inbox=inbox, raw=raw, source="file").raw_id)


@pytest.mark.django_db
def test_access_raw_mail_and_inbox_answer_not_found_across_shops(mailbox, other_shop):
    row = _ingest(mailbox, NO_SENDER)
    assert selectors.access_raw_mail(shop_id=mailbox.shop_id, raw_id=row.pk).pk == row.pk
    with pytest.raises(NotFound):
        selectors.access_raw_mail(shop_id=other_shop.pk, raw_id=row.pk)
    with pytest.raises(NotFound):
        selectors.access_raw_mail(shop_id=mailbox.shop_id, raw_id=row.pk + 1000)
    assert selectors.access_inbox(shop_id=mailbox.shop_id, inbox_id=mailbox.pk, kind="email") == mailbox
    with pytest.raises(NotFound):
        selectors.access_inbox(shop_id=other_shop.pk, inbox_id=mailbox.pk)
    with pytest.raises(NotFound):
        selectors.access_inbox(shop_id=mailbox.shop_id, inbox_id=mailbox.pk, kind="webform")


@pytest.mark.django_db
def test_quarantine_list_is_the_shops_quarantined_mail_newest_first(
    mailbox, other_shop, django_assert_num_queries
):
    first = _ingest(mailbox, NO_SENDER)
    _ingest(mailbox, GOOD)  # processed: not in quarantine
    second = _ingest(mailbox, NO_SENDER + b"again\r\n")
    RawMail.objects.filter(pk=first.pk).update(received_at=clock.now() - dt.timedelta(hours=1))
    theirs = factories.InboxFactory(
        shop=other_shop, kind="email", name="Theirs", config={"address": "a@b.test"}
    )
    _ingest(theirs, NO_SENDER)
    with django_assert_num_queries(1):
        rows = selectors.quarantine_list(shop_id=mailbox.shop_id)
        assert [r.inbox.name for r in rows] == ["Support", "Support"]
    assert [r.pk for r in rows] == [second.pk, first.pk]
    assert [r.pk for r in selectors.quarantine_list(shop_id=mailbox.shop_id, limit=1, offset=1)] == [first.pk]
    assert selectors.quarantine_count(shop_id=mailbox.shop_id) == 2
    assert selectors.quarantine_count(shop_id=other_shop.pk) == 1


@pytest.mark.django_db
def test_health_counts_quarantine_and_recent_mail_in_few_queries(mailbox, shop, django_assert_num_queries):
    factories.InboxFactory(shop=shop, kind="webform", name="Form")  # not an e-mail inbox: not listed
    quiet = factories.InboxFactory(shop=shop, kind="email", name="Quiet", config={"address": "q@sklep.test"})
    _ingest(mailbox, NO_SENDER)
    old = _ingest(mailbox, GOOD)
    RawMail.objects.filter(pk=old.pk).update(received_at=clock.now() - dt.timedelta(days=2))
    # inboxes, recent and quarantined counts, each inbox's latest mail, whether the last error was a mail's
    with django_assert_num_queries(4 + 2):
        health = selectors.mail_inboxes_health(shop_id=shop.pk)
    assert [h.inbox.name for h in health] == ["Quiet", "Support"]
    q, s = health
    assert (q.quarantined, q.received_24h, q.last_received_at, q.pulled) == (0, 0, None, False)
    assert q.address == "q@sklep.test" and q.inbox == quiet
    assert (s.quarantined, s.received_24h, s.pulled) == (1, 1, True)
    assert s.aliases == ["info@sklep.test"] and s.imap_folder == "INBOX"


@pytest.mark.django_db
def test_an_error_before_the_last_good_fetch_is_history(mailbox):
    now = clock.now()
    Inbox.objects.filter(pk=mailbox.pk).update(
        last_error="refused", last_error_at=now - dt.timedelta(hours=1), last_fetch_at=now
    )
    (h,) = selectors.mail_inboxes_health(shop_id=mailbox.shop_id)
    assert h.error_is_current is False
    Inbox.objects.filter(pk=mailbox.pk).update(last_error_at=now + dt.timedelta(seconds=1))
    (h,) = selectors.mail_inboxes_health(shop_id=mailbox.shop_id)
    assert h.error_is_current is True


@pytest.mark.django_db
def test_raw_source_decodes_headers_and_cuts_long_mail(mailbox):
    long_mail = NO_SENDER + b"".join(b"line %d \xff\r\n" % i for i in range(400))
    row = _ingest(mailbox, long_mail)
    source = selectors.raw_mail_source(row, max_lines=50)
    assert source.available and source.truncated
    assert (source.shown_lines, source.total_lines) == (50, len(long_mail.splitlines()))
    assert ("Subject", "Zamówienie") in source.headers
    assert "\ufffd" in source.text  # undecodable bytes replaced, never an error
    assert selectors.raw_mail_bytes(row) == long_mail


@pytest.mark.django_db
def test_raw_source_of_a_missing_file_says_so(mailbox):
    row = _ingest(mailbox, NO_SENDER)
    gone = {"sha256": "0" * 64, **({"raw": None} if hasattr(RawMail, "raw") else {})}
    RawMail.objects.filter(pk=row.pk).update(**gone)
    row.refresh_from_db()
    assert selectors.raw_mail_source(row).available is False
    assert selectors.raw_mail_bytes(row) is None


@pytest.mark.django_db
def test_a_quarantined_mail_is_not_a_connection_error(mailbox):
    _ingest(mailbox, NO_SENDER)  # the mail store records the reason as the inbox's last error too
    mailbox.refresh_from_db()
    assert mailbox.last_error == "We need an address to answer you."
    (h,) = selectors.mail_inboxes_health(shop_id=mailbox.shop_id)
    assert h.error_is_mail is True and h.error_is_current is False
    Inbox.objects.filter(pk=mailbox.pk).update(last_error="Cannot connect to imap.sklep.test:993")
    (h,) = selectors.mail_inboxes_health(shop_id=mailbox.shop_id)
    assert h.error_is_mail is False and h.error_is_current is True
