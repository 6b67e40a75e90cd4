from django.apps import AppConfig


class LivechatConfig(AppConfig):
    name = "opiekun.livechat"
    label = "livechat"

    def ready(self) -> None:
        # Delivery status and the desk's chat frames follow the domain events (published after commit).
        from opiekun.conversations.routing import add_auto_assign_check

        from . import fanout
        from .services import chat_reply_may_assign

        fanout.connect()
        # The widget's maximum of chats per agent also holds when a reply would assign the chat.
        add_auto_assign_check(chat_reply_may_assign)
