from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "opiekun.telephony"
    label = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        # Each phone and SMS provider is a webhook source; registered explicitly, one line each.
        from . import sources

        sources.register_all()
