from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "opiekun.commerce"
    label = "commerce"
    verbose_name = "Commerce"
