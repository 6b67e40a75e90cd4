"""WSGI entry point: the production HTTP path (granian), see docs/operations.md."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opiekun.config.settings.dev")
application = get_wsgi_application()
