"""Websocket routes of the chat: the visitor's (origin-checked per widget) and the desk's chat side."""

from django.urls import path

from .consumers import AgentChatConsumer, VisitorConsumer

# Not behind AllowedHostsOriginValidator: VisitorConsumer checks the Origin against the widget's list.
visitor_urlpatterns = [
    path("ws/chat/<str:key>/", VisitorConsumer.as_asgi()),
]
# Session-authenticated like the desk socket, and wrapped the same way (config/asgi.py).
desk_urlpatterns = [
    path("ws/desk/chat/", AgentChatConsumer.as_asgi()),
]
