"""opiekun.core.sessions: Django's database sessions, read by one plain SELECT; same outcomes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from opiekun.core.sessions import SessionStore


@pytest.mark.django_db
def test_a_saved_session_reads_back_and_an_expired_or_unknown_one_is_empty(django_assert_num_queries):
    store = SessionStore()
    store["cart"] = {"n": 2}
    store.save()
    key = store.session_key
    with django_assert_num_queries(1):
        assert SessionStore(key)["cart"] == {"n": 2}

    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.get("cart") is None and expired.session_key is None  # as Django: a new key on save

    unknown = SessionStore("x" * 32)
    assert dict(unknown.items()) == {} and unknown.session_key is None


@pytest.mark.django_db
def test_tampered_session_data_signs_nobody_in():
    store = SessionStore()
    store["_auth_user_id"] = "1"
    store.save()
    Session.objects.filter(session_key=store.session_key).update(session_data="forged:data")
    assert SessionStore(store.session_key).get("_auth_user_id") is None
