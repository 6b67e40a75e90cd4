"""`opiekun run` on a laptop: debug off by default, mail to files in the data folder unless SMTP is set."""

import os

from .base import *  # noqa: F403
from .base import DATA_DIR

DEBUG = os.environ.get("OPIEKUN_DEBUG", "") == "1"
if "OPIEKUN_EMAIL_BACKEND" not in os.environ and "OPIEKUN_SMTP_HOST" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "outbox")
