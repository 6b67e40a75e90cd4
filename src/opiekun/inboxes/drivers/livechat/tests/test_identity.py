"""The signed identity token: only a token signed with the inbox secret, unexpired, names a customer."""

import hashlib
import hmac

from opiekun.inboxes.drivers.livechat.identity import MAX_LIFETIME, identity_sign, identity_verify

SECRET = "shop-secret"
NOW = 1_800_000_000


def token(email="jan@example.com", name="Jan Kowalski", expires=NOW + 600, secret=SECRET):
    return {
        "email": email,
        "name": name,
        "expires": expires,
        "signature": identity_sign(secret=secret, email=email, name=name, expires=expires),
    }


def test_the_documented_scheme_is_hmac_sha256_over_email_name_expiry():
    expected = hmac.new(
        b"shop-secret", b"jan@example.com|Jan Kowalski|1800000600", hashlib.sha256
    ).hexdigest()
    assert token()["signature"] == expected


def test_a_valid_token_names_the_customer():
    found = identity_verify(token(), secret=SECRET, now=NOW)
    assert found is not None
    assert (found.email, found.name, found.expires) == ("jan@example.com", "Jan Kowalski", NOW + 600)


def test_expiry_may_come_as_a_string_from_php():
    t = token()
    t["expires"] = str(t["expires"])
    assert identity_verify(t, secret=SECRET, now=NOW) is not None


def test_a_changed_field_breaks_the_signature():
    for field, value in (("email", "ewa@example.com"), ("name", "Ewa"), ("expires", NOW + 601)):
        forged = {**token(), field: value}
        assert identity_verify(forged, secret=SECRET, now=NOW) is None, field


def test_another_secret_expired_or_too_long_lived_tokens_are_ignored():
    assert identity_verify(token(secret="other"), secret=SECRET, now=NOW) is None
    assert identity_verify(token(expires=NOW - 1), secret=SECRET, now=NOW) is None
    assert identity_verify(token(expires=NOW + MAX_LIFETIME + 10), secret=SECRET, now=NOW) is None


def test_no_secret_configured_means_nothing_is_trusted():
    assert identity_verify(token(secret=""), secret="", now=NOW) is None


def test_garbage_never_raises():
    for bad in (
        None,
        "x",
        5,
        [],
        {},
        {"email": 1},
        {**token(), "signature": "zz"},
        {**token(), "expires": True},
        {**token(), "expires": "soon"},
        {**token(), "expires": None},
    ):
        assert identity_verify(bad, secret=SECRET, now=NOW) is None


def test_the_separator_cannot_move_a_field_boundary():
    # "a|b" + "c" and "a" + "b|c" would sign the same bytes: refuse separators inside fields.
    t = token(email="jan@example.com|x", name="y")
    assert identity_verify(t, secret=SECRET, now=NOW) is None
