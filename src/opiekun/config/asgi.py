"""ASGI entry point: HTTP, the desk's websockets and the chat widget's socket."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opiekun.config.settings.dev")
django_asgi = get_asgi_application()

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402
from django.urls import re_path  # noqa: E402

from opiekun.livechat.routing import desk_urlpatterns as chat_desk_urlpatterns  # noqa: E402
from opiekun.livechat.routing import visitor_urlpatterns as chat_visitor_urlpatterns  # noqa: E402
from opiekun.realtime.routing import websocket_urlpatterns  # noqa: E402

# The desk's sockets: same-host pages only, signed in through the session cookie.
desk = AllowedHostsOriginValidator(
    CookieMiddleware(
        SessionMiddleware(AuthMiddleware(URLRouter([*websocket_urlpatterns, *chat_desk_urlpatterns])))
    )
)

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": URLRouter(
            [
                # Visitors come from the shops' own domains: the consumer checks the Origin against the
                # widget's allowed origins itself (4403), and no cookie of ours is read.
                *chat_visitor_urlpatterns,
                re_path(r"^", desk),
            ]
        ),
    }
)
