from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "opiekun.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from opiekun.core import background

        from .processing import processor_service

        background.register(processor_service)
