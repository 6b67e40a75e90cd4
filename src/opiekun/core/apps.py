from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "opiekun.core"
    label = "core"
