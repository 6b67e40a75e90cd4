from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "opiekun.conversations"
    label = "conversations"

    def ready(self) -> None:
        from opiekun.core.events import subscribe_many
        from opiekun.core.startup import on_serve

        from .dictionaries import warm_in_background
        from .events import ConversationChanged
        from .selectors import forget_counts_on_change

        subscribe_many(ConversationChanged, forget_counts_on_change)

        # The first message a fresh process stores must not wait seconds for the search dictionaries.
        on_serve(warm_in_background)
