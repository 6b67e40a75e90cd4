from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "opiekun.realtime"
    label = "realtime"

    def ready(self) -> None:
        # Live desks follow the domain events (published after commit); see fanout.py.
        from . import fanout

        fanout.connect()
