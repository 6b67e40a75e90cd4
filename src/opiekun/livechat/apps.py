from django.apps import AppConfig


class LivechatConfig(AppConfig):
    name = "opiekun.livechat"
    label = "livechat"

    def ready(self) -> None:
        # Delivery status and the desk's chat frames follow the domain events (published after commit).
        from . import fanout

        fanout.connect()
