"""Which inbox the SMTP intake stores a recipient's mail for."""

import pytest

from opiekun.inboxes.intake import inbox_for_recipient
from opiekun.testing import factories


@pytest.mark.django_db
def test_recipients_resolve_to_their_mailbox(email_inbox, shop, other_shop):
    email_inbox.config = {"address": "support@sklep.test", "aliases": ["pomoc@sklep.test"]}
    email_inbox.save()
    other = factories.InboxFactory(shop=other_shop, kind="email", config={"address": "help@other.test"})
    factories.AgentFactory(shop=shop, sender_email="olga@sklep.test")
    assert inbox_for_recipient("support@sklep.test") == email_inbox.pk
    assert inbox_for_recipient("<Support@Sklep.Test>") == email_inbox.pk
    assert inbox_for_recipient("pomoc@sklep.test") == email_inbox.pk
    assert inbox_for_recipient("support+c12-abcdef0123@sklep.test") == email_inbox.pk
    assert inbox_for_recipient("olga@sklep.test") == email_inbox.pk  # an agent's own address
    assert inbox_for_recipient("help@other.test") == other.pk
    assert inbox_for_recipient("nobody@sklep.test") is None
    assert inbox_for_recipient("not an address") is None
    email_inbox.is_active = False
    email_inbox.save()
    assert inbox_for_recipient("support@sklep.test") is None
