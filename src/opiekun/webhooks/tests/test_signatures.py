import base64
import hashlib
import hmac

import pytest

from opiekun.webhooks import signatures
from opiekun.webhooks.registry import Incoming, Rejected


def incoming(body: bytes = b"", headers: dict | None = None, form: dict | None = None) -> Incoming:
    return Incoming(
        url="https://x.test/hooks/t/", method="POST", headers=headers or {}, body=body, form=form or {}
    )


def refusal(fn, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(Rejected) as caught:
        fn(*args, **kwargs)
    return caught.value.status, caught.value.reason


def test_hmac_is_written_as_platforms_write_it():
    raw = hmac.new(b"k", b"body", hashlib.sha256).digest()
    assert signatures.hmac_of("k", b"body") == base64.b64encode(raw).decode()
    assert signatures.hmac_of("k", b"body", encoding="hex") == raw.hex()
    assert signatures.hmac_of("k", b"body", algorithm="sha1", encoding="hex") == (
        hmac.new(b"k", b"body", hashlib.sha1).hexdigest()
    )


def test_signature_checks_refuse_with_reasons():
    assert refusal(signatures.required_header, incoming(), "X-Sig") == (401, "missing X-Sig")
    assert signatures.required_header(incoming(headers={"X-Sig": " abc "}), "X-Sig") == "abc"
    assert refusal(signatures.must_match, "abc", "abd") == (401, "signature mismatch")
    assert refusal(signatures.must_match, "", "") == (401, "no signing secret configured")
    assert refusal(signatures.hmac_of, "", b"body") == (401, "no signing secret configured")
    assert refusal(signatures.must_match, "a", "b", what="secret") == (401, "secret mismatch")
    # a signature computed with an empty key proves nothing
    assert refusal(signatures.must_match, "abc", "abc", secret="") == (401, "no signing secret configured")
    signatures.must_match("abc", "abc", secret="k")
    signatures.must_match(" abc", "abc")


def test_bodies_of_the_wrong_shape_are_400():
    status, reason = refusal(signatures.json_body, b"{nope")
    assert status == 400 and reason.startswith("malformed JSON")
    assert refusal(signatures.json_object, b"[1]") == (400, "expected a JSON object, got list")
    assert signatures.json_object(b'{"a": 1}') == {"a": 1}
    assert refusal(signatures.form_body, incoming(b"{}")) == (400, "expected a form-encoded body")
    assert signatures.form_body(incoming(form={"a": ["1"]})) == {"a": ["1"]}
