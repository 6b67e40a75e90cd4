"""Settings shared by every environment; everything an operator sets comes from the environment.

The contract (DESIGN.md "Contract points"): OPIEKUN_DATA_DIR, DATABASE_URL, REDIS_URL,
OPIEKUN_HOST/OPIEKUN_PORT, read from the environment or an `.env` file in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

load_dotenv(Path.cwd() / ".env", override=False)

PACKAGE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("OPIEKUN_DATA_DIR", "./var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
ATTACHMENTS_DIR = DATA_DIR / "attachments"
REDIS_URL = os.environ.get("REDIS_URL", "")
OPIEKUN_HOST = os.environ.get("OPIEKUN_HOST", "127.0.0.1")
OPIEKUN_PORT = int(os.environ.get("OPIEKUN_PORT", "8000"))
# The address customers see in links we send (portal magic links).
OPIEKUN_PUBLIC_URL = os.environ.get("OPIEKUN_PUBLIC_URL", f"http://{OPIEKUN_HOST}:{OPIEKUN_PORT}").rstrip("/")


def _secret_key() -> str:
    """The key from the environment, else one generated once per data folder (never a shared default)."""
    if os.environ.get("OPIEKUN_SECRET_KEY"):
        return os.environ["OPIEKUN_SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _sealing_keys() -> list[str]:
    """Fernet keys that seal stored credentials (core/secretbox.py).

    OPIEKUN_SEALING_KEYS (comma-separated: the first seals, all unseal — rotation), else one generated
    once per data folder, apart from SECRET_KEY, so rotating that never loses a shop's credentials."""
    if os.environ.get("OPIEKUN_SEALING_KEYS"):
        return [k.strip() for k in os.environ["OPIEKUN_SEALING_KEYS"].split(",") if k.strip()]
    path = DATA_DIR / "sealing_key"
    if not path.exists():
        import base64
        import secrets

        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return [path.read_text().strip()]


OPIEKUN_SEALING_KEYS = _sealing_keys()
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("OPIEKUN_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "huey.contrib.djhuey",
    "opiekun.core",
    "opiekun.shops",
    "opiekun.webhooks",
    "opiekun.agents",
    "opiekun.contacts",
    "opiekun.conversations",
    "opiekun.inboxes",
    "opiekun.commerce",
    "opiekun.telephony",
    "opiekun.realtime",
    "opiekun.livechat",
    "opiekun.ui",
    "opiekun.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "opiekun.core.middleware.DropMalformedCookiesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "opiekun.config.urls"
ASGI_APPLICATION = "opiekun.config.asgi.application"
WSGI_APPLICATION = "opiekun.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The desk and the public pages each keep templates, static files and translations together.
        "DIRS": [PACKAGE_DIR / "ui" / area / "templates" for area in ("desk", "public")],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]


def _database() -> dict:  # type: ignore[type-arg]
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    return {
        "ENGINE": "opiekun.core.sqlite",  # Django's, with writers queued on a file lock
        "NAME": str(DATA_DIR / "opiekun.sqlite3"),
        # Each thread keeps its connection (a fresh one per request, with its PRAGMAs, cost more than the
        # whole remembered inbox page: bench/README.md); PostgreSQL keeps its 60 s too.
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            # Several writers (web threads + worker threads): WAL, a busy timeout and IMMEDIATE
            # transactions avoid "database is locked" (DESIGN.md, measured facts).
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The desk's backend loads the agent and shop with the session's user (one query instead of two per
# request); ModelBackend stays listed so sessions signed in through it keep working.
AUTHENTICATION_BACKENDS = [
    "opiekun.ui.desk.backends.DeskBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "desk:login"
LOGIN_REDIRECT_URL = "desk:inbox"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("pl", _("Polish")), ("ru", _("Russian"))]
# Each area keeps its own catalogue next to its code (makemessages run from that folder).
LOCALE_PATHS = [PACKAGE_DIR / area / "locale" for area in ("ui/desk", "ui/public", "conversations", "core")]
TIME_ZONE = os.environ.get("OPIEKUN_TIME_ZONE", "Europe/Warsaw")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns without it; files are served from the package
# Static files are served by WhiteNoise straight from the package (no collectstatic step needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False
STATICFILES_DIRS = [PACKAGE_DIR / "ui" / area / "static" for area in ("desk", "public")]

# Django's database sessions, read per request by one plain SELECT (opiekun/core/sessions.py).
SESSION_ENGINE = "opiekun.core.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Uploads: Django keeps small ones in memory and spools bigger ones to disk; our own limits are
# enforced per file by the attachment rules, this is the hard ceiling of one request body.
DATA_UPLOAD_MAX_MEMORY_SIZE = 60 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "opiekun",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    CHANNEL_LAYERS = {
        # Channels' own, minus a sweep of every queue on every call (realtime/layers.py).
        "default": {"BACKEND": "opiekun.realtime.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 500}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "opiekun"}}
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "opiekun",
        "filename": str(DATA_DIR / "tasks.sqlite3"),
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# The desk remembers rendered inbox lists in each process's own memory, whatever the topology: the
# key carries the shop's list version read from the database, so processes need not share a cache to
# agree (conversations/listcache.py), and a local read costs no network round trip.
CACHES["desk"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "opiekun-desk",
    "OPTIONS": {"MAX_ENTRIES": 1000},
}

EMAIL_BACKEND = os.environ.get("OPIEKUN_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("OPIEKUN_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("OPIEKUN_SMTP_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("OPIEKUN_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("OPIEKUN_SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("OPIEKUN_SMTP_STARTTLS", "") == "1"
EMAIL_USE_SSL = os.environ.get("OPIEKUN_SMTP_SSL", "") == "1"
EMAIL_TIMEOUT = 20
EMAIL_FILE_PATH = str(DATA_DIR / "outbox")
DEFAULT_FROM_EMAIL = os.environ.get("OPIEKUN_DEFAULT_FROM", "support@opiekun.localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "opiekun.core.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("OPIEKUN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "huey": {"level": "WARNING"}},
}

# Product limits (one place, read by services and the UI).
# The SMTP intake `opiekun run` serves for shops that forward their support mail here ("" or 0: off).
OPIEKUN_SMTP_INTAKE_HOST = os.environ.get("OPIEKUN_SMTP_INTAKE_HOST", OPIEKUN_HOST)
OPIEKUN_SMTP_INTAKE_PORT = int(os.environ.get("OPIEKUN_SMTP_INTAKE_PORT", "2525") or 0)
# Helper processes that parse long runs of mail (imports, mailbox backlogs) beside the database work.
OPIEKUN_MAIL_PARSE_WORKERS = int(os.environ.get("OPIEKUN_MAIL_PARSE_WORKERS", "1"))
OPIEKUN_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
OPIEKUN_UPLOAD_MAX_FILES = 5
OPIEKUN_FORM_RATE_LIMIT = (5, 600)  # submissions per IP per window (seconds)
# Minutes after an agent's chat reply that a visitor who left without seeing it gets it by e-mail (0: never).
OPIEKUN_CHAT_EMAIL_AFTER_MINUTES = int(os.environ.get("OPIEKUN_CHAT_EMAIL_AFTER_MINUTES", "5"))
OPIEKUN_LOGIN_LOCKOUT = (5, 900)  # failures per user+IP per window (seconds)
OPIEKUN_PORTAL_LINK_MAX_AGE = 14 * 24 * 3600
