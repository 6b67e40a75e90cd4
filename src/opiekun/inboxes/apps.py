from django.apps import AppConfig


class InboxesConfig(AppConfig):
    name = "opiekun.inboxes"
    label = "inboxes"

    def ready(self) -> None:
        # Drivers are registered explicitly, one line each (adding a channel = one folder + one line).
        from . import delivery, registry
        from .drivers.note.driver import NoteDriver
        from .drivers.webform.driver import WebformDriver

        registry.drivers.register(WebformDriver.kind, WebformDriver())
        registry.drivers.register(NoteDriver.kind, NoteDriver())
        delivery.connect()
