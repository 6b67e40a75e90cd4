"""Twilio Messaging status callbacks (delivery reports) for bench/webhook_intake.py, unique per `i`,
signed with X-Twilio-Signature. (SMSAPI.pl's callbacks carry their secret in the address's query, which
the intake bench's fixed path does not add; their verification is tested in telephony/tests/test_sms.py.)"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

SOURCE = "twilio-sms"
TOKEN = "bench-twilio-auth-token"


def prepare(shop: Any) -> Any:
    from opiekun.telephony import sms
    from opiekun.telephony.models import PhoneLine

    line = (
        PhoneLine.objects.filter(shop=shop, provider="twilio", purpose="sms")
        .select_related("endpoint")
        .first()
    )
    if line is None:
        line = sms.sms_line_create(
            shop=shop,
            provider="twilio",
            sender="+48221234500",
            public_url="http://127.0.0.1",
            credentials={"account_sid": "AC" + "0" * 32, "auth_token": TOKEN},
        )
    return line.endpoint


def make(i: int, secret: str, url: str) -> tuple[str, dict[str, str], bytes]:
    from opiekun.telephony.providers import twilio

    form = {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": f"SM{i // 2:032x}",
        "SmsSid": f"SM{i // 2:032x}",
        "MessageStatus": ("sent", "delivered")[i % 2],
        "SmsStatus": ("sent", "delivered")[i % 2],
        "To": f"+4851{i // 2 % 10_000_000:07d}",
        "From": "+48221234500",
        "ApiVersion": "2010-04-01",
    }
    signature = twilio.signature(url, {k: [v] for k, v in form.items()}, secret)
    return "application/x-www-form-urlencoded", {"X-Twilio-Signature": signature}, urlencode(form).encode()
