"""The test suite: tasks run inline, SQLite in memory unless DATABASE_URL points at PostgreSQL."""

import os

from .base import *  # noqa: F403
from .base import DATABASES, HUEY

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; argon2 is tested explicitly
HUEY = {**HUEY, "immediate": True}
EMAIL_BACKEND = os.environ.get("OPIEKUN_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
if "sqlite" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test"},
    # Rendered lists are not remembered in tests unless a test turns it on (ui/desk/tests/test_listcache*).
    "desk": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}
OPIEKUN_FORM_RATE_LIMIT = (5, 600)
OPIEKUN_MAIL_PARSE_WORKERS = 0  # parse in-process (one test turns the helper process on)
OPIEKUN_SMTP_INTAKE_PORT = 0
