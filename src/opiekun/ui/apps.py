from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "opiekun.ui"
    label = "ui"

    def ready(self) -> None:
        # The desk remembers rendered lists per shop list version; a contact's name, caretaker or merge
        # shows in them too, and contacts sit above conversations, so the wiring lives up here.
        from opiekun.contacts.events import ContactChanged
        from opiekun.conversations.listcache import forget_lists
        from opiekun.core.events import subscribe

        subscribe(ContactChanged, forget_lists)
