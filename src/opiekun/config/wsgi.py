"""WSGI entry point: the production HTTP path (granian), see docs/operations.md.

Webhooks (`/hooks/…`) skip the site's middleware (opiekun.webhooks.wsgi); every other path is the
full Django application."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opiekun.config.settings.dev")
_site = get_wsgi_application()

from opiekun.webhooks.wsgi import with_lean_intake  # noqa: E402  (after Django is set up)

application = with_lean_intake(_site)
