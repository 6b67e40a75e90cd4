from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "opiekun.telephony"
    label = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        # Each phone and SMS provider is a webhook source; registered explicitly, one line each.
        from . import sms, sources

        sources.register_all()
        # The SMS driver reads no database: the opt-out check (STOP / NIE / СТОП) is handed to it here.
        sms.install_opt_out_check()
