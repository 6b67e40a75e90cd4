from django.apps import AppConfig


class InboxesConfig(AppConfig):
    name = "opiekun.inboxes"
    label = "inboxes"

    def ready(self) -> None:
        # Drivers are registered explicitly, one line each (adding a channel = one folder + one line).
        from opiekun.core import background

        from . import delivery, registry
        from .drivers.email.driver import EmailDriver
        from .drivers.livechat.driver import LivechatDriver
        from .drivers.note.driver import NoteDriver
        from .drivers.sms.driver import SmsDriver
        from .drivers.webform.driver import WebformDriver

        registry.drivers.register(WebformDriver.kind, WebformDriver())
        registry.drivers.register(NoteDriver.kind, NoteDriver())
        registry.drivers.register(EmailDriver.kind, EmailDriver())
        registry.drivers.register(LivechatDriver.kind, LivechatDriver())
        registry.drivers.register(SmsDriver.kind, SmsDriver())
        delivery.connect()
        background.register(_mail_service)


def _mail_service():  # type: ignore[no-untyped-def]
    from .fetching import MailService

    return MailService()
