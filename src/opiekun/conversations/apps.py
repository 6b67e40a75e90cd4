from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "opiekun.conversations"
    label = "conversations"

    def ready(self) -> None:
        from opiekun.core.startup import on_serve

        from .dictionaries import warm_in_background

        # The first message a fresh process stores must not wait seconds for the search dictionaries.
        on_serve(warm_in_background)
